"""Offers, counters, acceptance and decline between the consumer and the enterprise."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from mediation.agreements.schemas import agreement_read
from mediation.dependencies import OutboxDep
from mediation.negotiation import service as negotiation_service
from mediation.negotiation.schemas import (
    CaseDecline,
    OfferAnswer,
    OfferCreate,
    OfferRead,
    OfferReject,
    offer_read,
)
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal, Principal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession
from servicekit.pii import PiiCipher

router = APIRouter(prefix="/v1", tags=["negotiation"])


def _answer_read(answer: negotiation_service.Answer, cipher: PiiCipher) -> OfferAnswer:
    return OfferAnswer(case_status=answer.case.status, offer=offer_read(answer.offer, cipher),
                       counter=offer_read(answer.counter, cipher) if answer.counter else None,
                       agreement=agreement_read(answer.agreement, cipher) if answer.agreement else None)


@router.post("/merchant/cases/{case_id}/offers", status_code=status.HTTP_201_CREATED,
             summary="Put a typed offer on the table (one open offer at a time)")
async def make_offer(case_id: uuid.UUID, body: OfferCreate, principal: MerchantPrincipal, session: DbSession,
                     outbox: OutboxDep, cipher: Cipher) -> OfferRead:
    """409 while another enterprise offer is open or once the case has closed."""
    offer = await negotiation_service.make_offer(session, outbox=outbox, cipher=cipher, case_id=case_id,
                                                 principal=principal,
                                                 terms=body, now=utcnow())
    return offer_read(offer, cipher)


@router.post("/merchant/cases/{case_id}/offers/{offer_id}/withdraw", summary="Withdraw the enterprise's open offer")
async def withdraw_offer(case_id: uuid.UUID, offer_id: uuid.UUID, principal: MerchantPrincipal, session: DbSession,
                         outbox: OutboxDep, cipher: Cipher) -> OfferAnswer:
    """409 if the offer was already accepted, rejected or withdrawn."""
    return _answer_read(await negotiation_service.withdraw_offer(
        session, outbox=outbox, cipher=cipher, case_id=case_id, offer_id=offer_id, principal=principal,
        now=utcnow()), cipher)


@router.post("/merchant/cases/{case_id}/decline", summary="Decline to settle: the complaint goes to the regulator")
async def decline_case(case_id: uuid.UUID, body: CaseDecline, principal: MerchantPrincipal, session: DbSession,
                       outbox: OutboxDep, cipher: Cipher) -> dict[str, str]:
    """Negotiation fails with reason enterprise_declined."""
    case = await negotiation_service.decline_case(session, outbox=outbox, cipher=cipher, case_id=case_id,
                                                  principal=principal,
                                                  note=body.note, now=utcnow())
    return {"case_status": case.status, "failure_reason": case.failure_reason or ""}


async def _accept(case_id: uuid.UUID, offer_id: uuid.UUID, principal: Principal, session: DbSession,
                  outbox: OutboxDep, cipher: Cipher) -> OfferAnswer:
    return _answer_read(await negotiation_service.accept_offer(
        session, outbox=outbox, cipher=cipher, case_id=case_id, offer_id=offer_id, principal=principal,
        now=utcnow()), cipher)


@router.post("/merchant/cases/{case_id}/offers/{offer_id}/accept", summary="Accept the consumer's counter-proposal")
async def merchant_accept_offer(case_id: uuid.UUID, offer_id: uuid.UUID, principal: MerchantPrincipal,
                                session: DbSession, outbox: OutboxDep, cipher: Cipher) -> OfferAnswer:
    """The counter becomes the settlement agreement."""
    return await _accept(case_id, offer_id, principal, session, outbox, cipher)


@router.post("/consumer/cases/{case_id}/offers/{offer_id}/accept", summary="Accept the enterprise's offer")
async def consumer_accept_offer(case_id: uuid.UUID, offer_id: uuid.UUID, principal: ConsumerPrincipal,
                                session: DbSession, outbox: OutboxDep, cipher: Cipher) -> OfferAnswer:
    """The offer becomes the settlement agreement; 409 if it was withdrawn meanwhile."""
    return await _accept(case_id, offer_id, principal, session, outbox, cipher)


@router.post("/consumer/cases/{case_id}/offers/{offer_id}/reject",
             summary="Reject an offer, optionally with a counter-proposal or a request for the regulator")
async def consumer_reject_offer(case_id: uuid.UUID, offer_id: uuid.UUID, body: OfferReject,
                                principal: ConsumerPrincipal, session: DbSession, outbox: OutboxDep,
                                    cipher: Cipher) -> OfferAnswer:
    """`escalate: true` ends negotiation (consumer_escalated); `counter` puts the consumer's terms on the table."""
    return _answer_read(await negotiation_service.reject_offer(
        session, outbox=outbox, cipher=cipher, case_id=case_id, offer_id=offer_id, principal=principal, body=body,
        now=utcnow()), cipher)
