"""Request and response bodies of regulators' actions on ODR enterprises."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class EnrollmentRead(BaseModel):
    merchant_id: uuid.UUID
    status: str
