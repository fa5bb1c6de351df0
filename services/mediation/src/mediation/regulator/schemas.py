"""Regulator mediation requests: assignment, clock pauses, recusal, the mediation document, termination."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mediation.negotiation.schemas import OfferTerms


class MediatorKind(StrEnum):
    REGULATOR_STAFF = "regulator_staff"
    CONSUMER_ASSOCIATION = "consumer_association"
    SERVICE_STATION = "service_station"


# Art. 19: mediation may be entrusted to these with both parties' consent; they may not pass it on.
DELEGATES = frozenset({MediatorKind.CONSUMER_ASSOCIATION, MediatorKind.SERVICE_STATION})


class MediatorAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mediator_kind: MediatorKind
    mediator_id: str = Field(min_length=1, max_length=200, description="The mediator's token subject.")
    mediator_region: str = Field(pattern=r"^\d{6}$", description="Region the mediator works in; must cover the case.")
    parties_consented: bool = Field(default=False, description="Both parties agreed to delegation (Art. 19).")

    @model_validator(mode="after")
    def _delegation_needs_consent(self) -> Self:
        if self.mediator_kind in DELEGATES and not self.parties_consented:
            raise ValueError("delegation needs both parties' consent (parties_consented: true)")
        return self


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2_000)


class RecusalParty(StrEnum):
    CONSUMER = "consumer"
    ENTERPRISE = "enterprise"


class RecusalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: RecusalParty
    note: str | None = Field(default=None, max_length=2_000)


class RecusalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upheld: bool = Field(description="True: the mediator steps aside and the case needs a new one.")
    note: str | None = Field(default=None, max_length=2_000)


class MediationAgreementCreate(OfferTerms):
    """The mediation document (调解书, Art. 24) or the record of the agreement: terms and both signatures."""

    document_no: str = Field(min_length=1, max_length=64)
    consumer_consent_at: datetime
    enterprise_consent_at: datetime


class Termination(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ground: int = Field(ge=1, le=8, description="Order 121 Art. 23 ground 1..8")
    note: str | None = Field(default=None, max_length=2_000)


class MediationStateRead(BaseModel):
    case_status: str
    mediation_due_date: date | None
    paused: bool
    mediator_kind: str | None
    mediator_id: str | None
    delegated: bool


class TerminationRead(BaseModel):
    case_status: str
    ground: int
    notice_due: date = Field(description="Both parties are told by this day (7 working days, Art. 23).")
