"""Group `complaints.on-mediation`: the outcomes of negotiation and mediation move the complaint.

negotiation_failed -> pending_acceptance (new initial_review clock), settled -> closed_settled (money recovered),
terminated -> closed_terminated; opened records the mediation case id; reviewed keeps the review for the period
report's audit figures; an enterprise's offer_made texts the complainant (queued in the inbox transaction, so
once). Duplicates are dropped by the inbox, and an
outcome for a complaint that is already closed (withdrawn meanwhile, say) is ignored, not an error.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint import decisions
from complaints.notifications import service as notifications
from complaints.publisher import Publisher
from complaints.summary import service as summary
from servicekit.contracts.mediation_v1 import (
    CaseOpened,
    CaseReviewed,
    CaseSettled,
    CaseTerminated,
    NegotiationFailed,
    OfferMade,
)
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler
from servicekit.pii import PiiCipher
from servicekit.sms import SmsTemplate

GROUP = "complaints.on-mediation"


def mediation_handlers(*, publisher: Publisher, cipher: PiiCipher) -> dict[str, Handler]:
    """Handlers by event type; each runs inside the inbox consumer's transaction."""

    async def on_opened(session: AsyncSession, envelope: EventEnvelope) -> None:
        await decisions.record_case_opened(session, CaseOpened.model_validate(envelope.data), publisher)

    async def on_negotiation_failed(session: AsyncSession, envelope: EventEnvelope) -> None:
        await decisions.record_negotiation_failed(session, NegotiationFailed.model_validate(envelope.data), cipher,
                                                  publisher)

    async def on_settled(session: AsyncSession, envelope: EventEnvelope) -> None:
        await decisions.record_settled(session, CaseSettled.model_validate(envelope.data), publisher)

    async def on_terminated(session: AsyncSession, envelope: EventEnvelope) -> None:
        await decisions.record_terminated(session, CaseTerminated.model_validate(envelope.data), publisher)

    async def on_reviewed(session: AsyncSession, envelope: EventEnvelope) -> None:
        await summary.record_review(session, CaseReviewed.model_validate(envelope.data))

    async def on_offer_made(session: AsyncSession, envelope: EventEnvelope) -> None:
        offer = OfferMade.model_validate(envelope.data)
        if offer.made_by == "enterprise":
            await notifications.enqueue(session, cipher, template=SmsTemplate.OFFER_RECEIVED, params={},
                                        complaint_id=offer.complaint_id, dedup_key=f"event:{envelope.id}")

    return {
        CaseOpened.event_type: on_opened,
        OfferMade.event_type: on_offer_made,
        NegotiationFailed.event_type: on_negotiation_failed,
        CaseSettled.event_type: on_settled,
        CaseTerminated.event_type: on_terminated,
        CaseReviewed.event_type: on_reviewed,
    }
