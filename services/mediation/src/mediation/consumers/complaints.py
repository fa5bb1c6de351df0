"""Handlers of the complaints service's events (consumer group mediation.on-complaints)."""

from __future__ import annotations

from servicekit.contracts.complaints_v1 import ComplaintRouted, RouteTarget
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases import service as cases_service

GROUP = "mediation.on-complaints"


def complaint_handlers(*, outbox: Outbox, cipher: PiiCipher) -> dict[str, Handler]:
    """Event type -> handler; each runs in the consumer's transaction and never commits."""

    async def on_complaint_routed(session: AsyncSession, envelope: EventEnvelope) -> None:
        routed = ComplaintRouted.model_validate(envelope.data)
        # Complaints routed to the regulator reach mediation only once accepted (issue 5).
        if routed.target is not RouteTarget.MERCHANT:
            return
        await cases_service.open_negotiation_case(session, outbox=outbox, cipher=cipher, routed=routed,
                                                  cause=envelope)

    return {ComplaintRouted.event_type: on_complaint_routed}
