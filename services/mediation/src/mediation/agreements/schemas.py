"""The settlement agreement as the parties see it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from mediation.agreements.models import SettlementAgreement
from mediation.agreements.service import agreement_terms
from servicekit.pii import PiiCipher


class ConsentRead(BaseModel):
    by: str
    at: datetime


class AgreementRead(BaseModel):
    id: uuid.UUID
    stage: str
    terms: dict[str, object]
    amount_fen: int
    fulfil_by: date | None
    consumer_consent: ConsentRead
    enterprise_consent: ConsentRead
    document_no: str | None
    mediator_id: str | None
    content_hash: str = Field(description="SHA-256 (hex) of the canonical JSON of the agreement's content.")
    fulfilment_status: str
    created_at: datetime


def agreement_read(agreement: SettlementAgreement, cipher: PiiCipher) -> AgreementRead:
    return AgreementRead(
        id=agreement.id, stage=agreement.stage, terms=agreement_terms(agreement, cipher),
        amount_fen=agreement.amount_fen, fulfil_by=agreement.fulfil_by,
        consumer_consent=ConsentRead(by=agreement.consumer_consent_by, at=agreement.consumer_consent_at),
        enterprise_consent=ConsentRead(by=agreement.enterprise_consent_by, at=agreement.enterprise_consent_at),
        document_no=agreement.document_no, mediator_id=agreement.mediator_id, content_hash=agreement.content_hash,
        fulfilment_status=agreement.fulfilment_status, created_at=agreement.created_at)
