"""The consumer's data export from this service, and the answer to an erasure."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from complaints.access.schemas import ConsumerCaseAccessRead
from complaints.complaint.schemas import ComplaintRead
from complaints.consultation.schemas import ConsultationRead
from complaints.evidence.schemas import EvidenceRead


class TextMessageRead(BaseModel):
    """A text message about one of the consumer's cases, as they received it."""

    complaint_id: uuid.UUID
    template: str
    text: str
    status: str
    created_at: datetime
    sent_at: datetime | None


class ComplaintsPersonalData(BaseModel):
    """Everything the complaints service holds about the consumer (PIPL Art. 45): their cases in full with their
    timelines, the attachments they uploaded (metadata; each file downloads from its case), their consultations,
    who among staff read their personal data (role and bureau) and the text messages sent to them."""

    consumer_id: str = Field(description="The token subject the data is kept under")
    exported_at: datetime
    complaints: list[ComplaintRead]
    evidence: list[EvidenceRead]
    consultations: list[ConsultationRead]
    access_log: list[ConsumerCaseAccessRead]
    text_messages: list[TextMessageRead]


class ErasureRead(BaseModel):
    """The case whose personal data is erased, and when; its anonymised figures stay."""

    complaint_id: uuid.UUID
    case_no: str
    personal_data_erased_at: datetime
