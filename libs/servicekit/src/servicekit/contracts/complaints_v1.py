"""Events of the complaints service (topic ``complaints.complaint``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field, model_validator

from servicekit.contracts.base import EventContract, SealedText
from servicekit.pii import PiiCipher, mask_name, mask_phone, open_from_event, seal_for_event


class RouteTarget(StrEnum):
    MERCHANT = "merchant"
    REGULATOR = "regulator"


class ComplainantForMerchant(BaseModel):
    """What negotiation needs of the complainant: a name and a masked phone, never full PII in clear.

    Events are kept in the producer's outbox, on the topic and in copies (webhook deliveries), so the full name
    travels only sealed (`name_sealed`, servicekit.pii.seal_for_event with the shared PII key, bound to the complaint
    and the field); `name` carries the masked name (王*). Producers before the seal sent the full name in `name`:
    `full_name` opens the seal when there is one and falls back to `name`.
    """

    name: str = Field(description="The masked name (王*); the full name only in name_sealed.")
    phone_masked: str
    name_sealed: str | None = Field(
        default=None, description="The full name, AES-256-GCM sealed with the shared PII key, base64.")

    @staticmethod
    def seal_context(complaint_id: uuid.UUID) -> str:
        return f"complaints.complaint:{complaint_id}:complainant.name"

    @classmethod
    def sealed(cls, cipher: PiiCipher, *, complaint_id: uuid.UUID, name: str, phone: str) -> ComplainantForMerchant:
        """The masked view, with the full name sealed for the services that hold the PII key."""
        return cls(name=mask_name(name), phone_masked=mask_phone(phone),
                   name_sealed=seal_for_event(cipher, name, context=cls.seal_context(complaint_id)))

    def full_name(self, cipher: PiiCipher, *, complaint_id: uuid.UUID) -> str:
        if self.name_sealed is None:
            return self.name
        return open_from_event(cipher, self.name_sealed, context=self.seal_context(complaint_id))


class SealedFacts(BaseModel):
    """The consumer's account of the facts, for the events that hand a complaint to whoever answers it (routed,
    accepted). It is free text about a person, so it travels only sealed (`facts_sealed`, bound to the complaint and
    the field); readers open it with `facts_text`. Producers before the seal sent it in clear in `facts`."""

    facts: str | None = Field(default=None, description="Only in events published before the seal: the facts in clear.")
    facts_sealed: SealedText | None = None

    @model_validator(mode="after")
    def _carries_facts(self) -> SealedFacts:
        if self.facts is None and self.facts_sealed is None:
            raise ValueError("the event carries neither facts_sealed nor facts")
        return self

    @staticmethod
    def facts_context(complaint_id: uuid.UUID) -> str:
        return f"complaints.complaint:{complaint_id}:facts"

    @classmethod
    def seal_facts(cls, cipher: PiiCipher, *, complaint_id: uuid.UUID, facts: str) -> str:
        return seal_for_event(cipher, facts, context=cls.facts_context(complaint_id))

    def facts_text(self, cipher: PiiCipher, *, complaint_id: uuid.UUID) -> str:
        if self.facts_sealed is None:
            assert self.facts is not None, "validated: one of the two is set"
            return self.facts
        return open_from_event(cipher, self.facts_sealed, context=self.facts_context(complaint_id))


class EvidenceForMerchant(BaseModel):
    """An attachment the consumer chose to share with the enterprise. The enterprise downloads it from
    `GET /v1/merchant/complaints/{complaint_id}/evidence/{id}` with its own token; no one else's token opens it."""

    id: uuid.UUID
    filename: str
    media_type: str
    size_bytes: int
    sha256: str


class ComplaintFiled(EventContract):
    event_type: ClassVar[str] = "complaints.complaint.filed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    kind: str
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    sector: str
    category: str | None
    channel: str
    request_type: str
    request_amount_fen: int | None
    green_channel: bool
    filed_at: datetime
    # Added within v1 (optional, so older events still parse): the issue type from the fixed list.
    issue_type: str | None = None


class ComplaintRouted(SealedFacts, EventContract):
    event_type: ClassVar[str] = "complaints.complaint.routed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    target: RouteTarget
    merchant_id: uuid.UUID | None
    region_code: str
    consumer_id: str
    complainant: ComplainantForMerchant
    request_type: str
    request_amount_fen: int | None
    due_date: date | None
    routed_at: datetime
    # What the enterprise needs to answer (issue 13; optional, so events published before them still validate).
    order_no: str | None = None
    purchase_date: date | None = None
    purchase_amount_fen: int | None = None
    sector: str | None = None
    category: str | None = None
    issue_type: str | None = None
    evidence: list[EvidenceForMerchant] = Field(default_factory=list)


class ComplaintAccepted(SealedFacts, EventContract):
    """The regulator accepted the complaint for mediation (Art. 15); mediation opens a regulator mediation case."""

    event_type: ClassVar[str] = "complaints.complaint.accepted.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    consumer_id: str
    complainant: ComplainantForMerchant
    request_type: str
    request_amount_fen: int | None
    accepted_by: str
    accepted_at: datetime
    # What the enterprise needs to answer (issue 13; optional, so events published before them still validate).
    order_no: str | None = None
    purchase_date: date | None = None
    purchase_amount_fen: int | None = None
    sector: str | None = None
    category: str | None = None
    issue_type: str | None = None
    evidence: list[EvidenceForMerchant] = Field(default_factory=list)


class ComplaintTransferred(EventContract):
    """A bureau passed the complaint to the competent one (Order 121 Art. 13, 41): `region_code` is the receiving
    bureau's region, whose 7-working-day acceptance clock (`due_date`) starts on the day of the transfer. An enterprise
    the case had reached hears of it through `merchant_id`."""

    event_type: ClassVar[str] = "complaints.complaint.transferred.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    from_region: str
    region_code: str
    merchant_id: uuid.UUID | None
    reason: str
    due_date: date
    transferred_at: datetime


class ComplaintIssueTypeCorrected(EventContract):
    """The regulator corrected the issue type the consumer chose."""

    event_type: ClassVar[str] = "complaints.complaint.issue_type_corrected.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    kind: str
    previous: str
    issue_type: str
    corrected_at: datetime


class ComplaintRefused(EventContract):
    """Refused with an Art. 16 ground (1..7); the consumer was told the other routes."""

    event_type: ClassVar[str] = "complaints.complaint.refused.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    ground: int
    refused_by: str
    refused_at: datetime


class ComplaintWithdrawn(EventContract):
    """The consumer withdrew; an open negotiation or mediation case ends (Art. 23 ground 1)."""

    event_type: ClassVar[str] = "complaints.complaint.withdrawn.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    withdrawn_at: datetime


class ComplaintClosed(EventContract):
    """The case reached a final status; `recovered_fen` is what the consumer got back."""

    event_type: ClassVar[str] = "complaints.complaint.closed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    region_code: str
    merchant_id: uuid.UUID | None
    status: str
    recovered_fen: int
    closed_at: datetime
    # Added within v1 (optional, so older events still parse): the consumer-rights service station that settled the
    # complaint on the spot, at filing or while it waited for the regulator; null for every other closure. Mediation
    # keeps these outcomes beside its own cases for the outcome audit (they never reach it as a case).
    settled_by_station: uuid.UUID | None = None


class ComplaintRated(EventContract):
    """The consumer rated the handling after closure (1..5)."""

    event_type: ClassVar[str] = "complaints.complaint.rated.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    merchant_id: uuid.UUID | None
    rating: int
    rated_at: datetime


class PersonalDataErased(EventContract):
    """The personal data of a closed case was erased after its retention period (PIPL Art. 47), at the consumer's
    request or by the retention job: every service erases its copies of the parties and of what the consumer wrote
    and keeps the anonymised case, so every statistic stays the same. Carries nothing personal itself."""

    event_type: ClassVar[str] = "complaints.complaint.personal_data_erased.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    erased_at: datetime


class DeadlineBreached(EventContract):
    """A statutory clock of the complaint passed its due date unmet."""

    event_type: ClassVar[str] = "complaints.complaint.deadline_breached.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    region_code: str
    merchant_id: uuid.UUID | None
    kind: str
    due_date: date
    breached_at: datetime


class ReportStatusChanged(EventContract):
    """A report (举报) moved on its track: verifying, case_opened or not_opened.

    Never carries the reporter; `merchant_id` is always null, so nothing that serves enterprises can pass a report's
    progress to the business reported (Order 121 Art. 37). The same holds for `filed` and `deadline_breached` of a
    report.
    """

    event_type: ClassVar[str] = "complaints.complaint.report_status_changed.v1"
    aggregate_field: ClassVar[str] = "complaint_id"

    complaint_id: uuid.UUID
    case_no: str
    region_code: str
    merchant_id: uuid.UUID | None
    status: str
    case_opened: bool | None
    changed_at: datetime


CONTRACTS: tuple[type[EventContract], ...] = (
    ComplaintFiled,
    ComplaintRouted,
    ComplaintAccepted,
    ComplaintTransferred,
    ComplaintIssueTypeCorrected,
    ComplaintRefused,
    ComplaintWithdrawn,
    ComplaintClosed,
    ComplaintRated,
    PersonalDataErased,
    DeadlineBreached,
    ReportStatusChanged,
)
