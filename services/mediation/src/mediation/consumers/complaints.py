"""Handlers of the complaints service's events (consumer group mediation.on-complaints)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import service as cases_service
from mediation.regulator import service as regulator_service
from mediation.settings import MediationSettings
from servicekit.contracts.complaints_v1 import ComplaintAccepted, ComplaintRouted, ComplaintWithdrawn, RouteTarget
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher

GROUP = "mediation.on-complaints"


def complaint_handlers(*, outbox: Outbox, cipher: PiiCipher, settings: MediationSettings) -> dict[str, Handler]:
    """Event type -> handler; each runs in the consumer's transaction and never commits."""

    async def on_complaint_routed(session: AsyncSession, envelope: EventEnvelope) -> None:
        routed = ComplaintRouted.model_validate(envelope.data)
        # Complaints routed to the regulator reach mediation only once accepted.
        if routed.target is not RouteTarget.MERCHANT:
            return
        await cases_service.open_negotiation_case(session, outbox=outbox, cipher=cipher, routed=routed,
                                                  cause=envelope)

    async def on_complaint_accepted(session: AsyncSession, envelope: EventEnvelope) -> None:
        await regulator_service.open_mediation(session, outbox=outbox, cipher=cipher, settings=settings,
                                               accepted=ComplaintAccepted.model_validate(envelope.data),
                                               cause=envelope)

    async def on_complaint_withdrawn(session: AsyncSession, envelope: EventEnvelope) -> None:
        await regulator_service.close_on_withdrawal(session, outbox=outbox, settings=settings,
                                                    withdrawn=ComplaintWithdrawn.model_validate(envelope.data),
                                                    cause=envelope)

    return {
        ComplaintRouted.event_type: on_complaint_routed,
        ComplaintAccepted.event_type: on_complaint_accepted,
        ComplaintWithdrawn.event_type: on_complaint_withdrawn,
    }
