"""Turning rows into what participants see."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases.models import MediationCase, complainant_name_context
from mediation.cases.schemas import (
    CaseDetail,
    CaseRead,
    CaseRequestRead,
    ComplainantRead,
    DeadlineRead,
    MediatorRead,
)
from mediation.cases.state import (
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    mediation_deadline_state,
    negotiation_deadline_state,
)
from mediation.fulfilment import service as fulfilment_service
from mediation.fulfilment.models import FulfilmentProof, ProofAnswer, ProofKind
from mediation.fulfilment.schemas import ProofRead
from mediation.messages import attachments as attachments_service
from mediation.messages import service as messages_service
from mediation.messages.models import CaseAttachment, CaseMessage, ReadMarker
from mediation.messages.schemas import AttachmentRead, MessageRead, ReadReceiptRead
from mediation.negotiation import service as negotiation_service
from mediation.negotiation.models import Offer, OfferStatus, OfferType, SettlementAgreement
from mediation.negotiation.schemas import AgreementRead, ConsentRead, OfferRead
from servicekit.calendar import local_date, working_days_after
from servicekit.db import utcnow
from servicekit.pii import PiiCipher


def deadlines_of(case: MediationCase) -> list[DeadlineRead]:
    """The clocks of the case as they stand today (Asia/Shanghai)."""
    status, today = CaseStatus(case.status), local_date(utcnow())

    def clock(kind: DeadlineKind, due_date: date, state: DeadlineState) -> DeadlineRead:
        left = working_days_after(today, due_date) if state is DeadlineState.RUNNING else None
        return DeadlineRead(kind=kind, due_date=due_date, state=state, working_days_left=left)

    deadlines = []
    if case.due_date is not None:
        deadlines.append(clock(DeadlineKind.MERCHANT_NEGOTIATION, case.due_date,
                               negotiation_deadline_state(status, case.due_date, today)))
    if case.mediation_due_date is not None:
        deadlines.append(clock(DeadlineKind.MEDIATION, case.mediation_due_date,
                               mediation_deadline_state(status, case.mediation_due_date, today,
                                                        paused=case.paused_at is not None)))
    return deadlines


def case_read(case: MediationCase, cipher: PiiCipher) -> CaseRead:
    """The shared view of a case; the complainant's name is decrypted only here."""
    return CaseRead(
        id=case.id,
        complaint_id=case.complaint_id,
        case_no=case.case_no,
        status=CaseStatus(case.status),
        merchant_id=case.merchant_id,
        region_code=case.region_code,
        deadlines=deadlines_of(case),
        complainant=ComplainantRead(
            name=cipher.decrypt(case.complainant_name, context=complainant_name_context(case.id)),
            phone_masked=case.complainant_phone_masked,
        ),
        request=CaseRequestRead(type=case.request_type, amount_fen=case.request_amount_fen),
        facts=case.facts,
        opened_at=case.opened_at,
        closed_at=case.closed_at,
    )


def offer_read(offer: Offer) -> OfferRead:
    return OfferRead(id=offer.id, status=OfferStatus(offer.status), made_by=offer.made_by,
                     type=OfferType(offer.offer_type), amount_fen=offer.amount_fen, fulfil_by=offer.fulfil_by,
                     note=offer.note, counter_to=offer.counter_to, made_at=offer.made_at,
                     answered_at=offer.answered_at)


def agreement_read(agreement: SettlementAgreement) -> AgreementRead:
    return AgreementRead(
        id=agreement.id, stage=agreement.stage, terms=agreement.terms, amount_fen=agreement.amount_fen,
        fulfil_by=agreement.fulfil_by,
        consumer_consent=ConsentRead(by=agreement.consumer_consent_by, at=agreement.consumer_consent_at),
        enterprise_consent=ConsentRead(by=agreement.enterprise_consent_by, at=agreement.enterprise_consent_at),
        document_no=agreement.document_no, mediator_id=agreement.mediator_id, content_hash=agreement.content_hash,
        fulfilment_status=agreement.fulfilment_status, created_at=agreement.created_at)


def proof_read(proof: FulfilmentProof, agreement: SettlementAgreement) -> ProofRead:
    return ProofRead(id=proof.id, agreement_id=agreement.id, kind=ProofKind(proof.kind), reference=proof.reference,
                     note=proof.note, recorded_at=proof.recorded_at,
                     answer=ProofAnswer(proof.answer) if proof.answer else None, answered_at=proof.answered_at,
                     fulfilment_status=agreement.fulfilment_status)


def attachment_read(attachment: CaseAttachment) -> AttachmentRead:
    return AttachmentRead(id=attachment.id, filename=attachment.filename, content_type=attachment.content_type,
                          size=attachment.size_bytes, sha256=attachment.sha256, uploaded_by=attachment.uploader_role,
                          message_id=attachment.message_id, uploaded_at=attachment.uploaded_at)


def message_read(message: CaseMessage, attachments: Sequence[CaseAttachment]) -> MessageRead:
    return MessageRead(id=message.id, author_role=message.author_role, text=message.body,
                       attachments=[attachment_read(attachment) for attachment in attachments],
                       posted_at=message.posted_at)


def receipt_read(marker: ReadMarker) -> ReadReceiptRead:
    return ReadReceiptRead(reader_role=marker.reader_role, last_read_message_id=marker.last_read_message_id,
                           read_at=marker.read_at)


async def case_detail(session: AsyncSession, case: MediationCase, cipher: PiiCipher) -> CaseDetail:
    """Everything on the case's table, in one view."""
    agreement = await negotiation_service.agreement_of(session, case.id)
    messages = await messages_service.messages_of(session, case.id)
    case_attachments = await attachments_service.of_case(session, case.id)
    by_message: dict[uuid.UUID, list[CaseAttachment]] = defaultdict(list)
    for attachment in case_attachments:
        if attachment.message_id is not None:
            by_message[attachment.message_id].append(attachment)
    mediator = None
    if case.mediator_id is not None and case.mediator_kind is not None:
        mediator = MediatorRead(kind=case.mediator_kind, id=case.mediator_id, region_code=case.mediator_region,
                                delegated=case.delegated)
    return CaseDetail(
        **case_read(case, cipher).model_dump(),
        stage=case.stage,
        failure_reason=case.failure_reason,
        termination_ground=case.termination_ground,
        mediator=mediator,
        offers=[offer_read(offer) for offer in await negotiation_service.offers_of(session, case.id)],
        agreement=agreement_read(agreement) if agreement else None,
        fulfilment_proofs=[proof_read(proof, agreement) for proof in await fulfilment_service.proofs_of(
            session, agreement.id)] if agreement else [],
        messages=[message_read(message, by_message.get(message.id, [])) for message in messages],
        attachments=[attachment_read(attachment) for attachment in case_attachments],
        read_receipts=[receipt_read(marker) for marker in await messages_service.read_markers_of(session, case.id)],
    )
