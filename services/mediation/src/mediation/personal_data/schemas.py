"""What mediation holds about a consumer, as their data export reads it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from mediation.casefile.schemas import CaseDetail


class MediationPersonalData(BaseModel):
    """Every negotiation and mediation case the consumer is party to, with everything on its table: the offers,
    the agreement, fulfilment, every message and attachment (metadata) and the read receipts."""

    consumer_id: str = Field(description="The token subject the data is kept under")
    exported_at: datetime
    cases: list[CaseDetail]
