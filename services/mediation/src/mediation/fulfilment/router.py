"""The enterprise proves fulfilment; the consumer confirms or disputes it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from mediation.dependencies import OutboxDep
from mediation.fulfilment import service as fulfilment_service
from mediation.fulfilment.models import ProofAnswer
from mediation.fulfilment.schemas import ProofAnswerCreate, ProofCreate, ProofRead, proof_read
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession

router = APIRouter(prefix="/v1", tags=["fulfilment"])


@router.post("/merchant/cases/{case_id}/fulfilment", status_code=status.HTTP_201_CREATED,
             summary="Record proof of fulfilling the settlement agreement")
async def record_fulfilment(case_id: uuid.UUID, body: ProofCreate, principal: MerchantPrincipal, session: DbSession,
                            outbox: OutboxDep, cipher: Cipher) -> ProofRead:
    """409 when the case has no agreement or fulfilment was already confirmed."""
    proof, agreement = await fulfilment_service.record_proof(session, outbox=outbox, cipher=cipher, case_id=case_id,
                                                             principal=principal, proof=body, now=utcnow())
    return proof_read(proof, agreement, cipher)


async def _answer(case_id: uuid.UUID, proof_id: uuid.UUID, body: ProofAnswerCreate, principal: ConsumerPrincipal,
                  session: DbSession, outbox: OutboxDep, cipher: Cipher, answer: ProofAnswer) -> ProofRead:
    proof, agreement = await fulfilment_service.answer_proof(
        session, outbox=outbox, cipher=cipher, case_id=case_id, proof_id=proof_id, principal=principal, answer=answer,
        note=body.note, now=utcnow())
    return proof_read(proof, agreement, cipher)


@router.post("/consumer/cases/{case_id}/fulfilment/{proof_id}/confirm", summary="Confirm the agreement was fulfilled")
async def confirm_fulfilment(case_id: uuid.UUID, proof_id: uuid.UUID, body: ProofAnswerCreate,
                             principal: ConsumerPrincipal, session: DbSession, outbox: OutboxDep,
                                 cipher: Cipher) -> ProofRead:
    """The case's outcome becomes fulfilled (appended to the audit chain)."""
    return await _answer(case_id, proof_id, body, principal, session, outbox, cipher, ProofAnswer.CONFIRMED)


@router.post("/consumer/cases/{case_id}/fulfilment/{proof_id}/dispute", summary="Dispute the enterprise's proof")
async def dispute_fulfilment(case_id: uuid.UUID, proof_id: uuid.UUID, body: ProofAnswerCreate,
                             principal: ConsumerPrincipal, session: DbSession, outbox: OutboxDep,
                                 cipher: Cipher) -> ProofRead:
    """The enterprise may record new proof."""
    return await _answer(case_id, proof_id, body, principal, session, outbox, cipher, ProofAnswer.DISPUTED)
