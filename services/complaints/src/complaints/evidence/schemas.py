"""Response bodies of the evidence domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class EvidenceRead(BaseModel):
    """An attachment: its sniffed type, size and SHA-256."""

    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
