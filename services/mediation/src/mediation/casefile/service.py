"""The case file: one case with everything on its table, read from every package that keeps a part of it."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements import service as agreements_service
from mediation.agreements.schemas import agreement_read
from mediation.casefile.schemas import CaseDetail
from mediation.cases.models import MediationCase
from mediation.cases.service import case_read, mediator_of
from mediation.fulfilment import service as fulfilment_service
from mediation.fulfilment.schemas import proof_read
from mediation.messages import attachments as attachments_service
from mediation.messages import service as messages_service
from mediation.messages.models import CaseAttachment
from mediation.messages.schemas import attachment_read, message_read, receipt_read
from mediation.negotiation import service as negotiation_service
from mediation.negotiation.schemas import offer_read
from servicekit.pii import PiiCipher


async def case_detail(session: AsyncSession, case: MediationCase, cipher: PiiCipher) -> CaseDetail:
    """Everything on the case's table, in one view."""
    agreement = await agreements_service.agreement_of(session, case.id)
    messages = await messages_service.messages_of(session, case.id)
    case_attachments = await attachments_service.of_case(session, case.id)
    by_message: dict[uuid.UUID, list[CaseAttachment]] = defaultdict(list)
    for attachment in case_attachments:
        if attachment.message_id is not None:
            by_message[attachment.message_id].append(attachment)
    mediator = mediator_of(case)
    return CaseDetail(
        **case_read(case, cipher).model_dump(),
        stage=case.stage,
        failure_reason=case.failure_reason,
        termination_ground=case.termination_ground,
        mediator=mediator,
        offers=[offer_read(offer, cipher) for offer in await negotiation_service.offers_of(session, case.id)],
        agreement=agreement_read(agreement, cipher) if agreement else None,
        fulfilment_proofs=[proof_read(proof, agreement, cipher) for proof in await fulfilment_service.proofs_of(
            session, agreement.id)] if agreement else [],
        messages=[message_read(message, by_message.get(message.id, []), cipher) for message in messages],
        attachments=[attachment_read(attachment, cipher) for attachment in case_attachments],
        read_receipts=[receipt_read(marker) for marker in await messages_service.read_markers_of(session, case.id)],
    )
