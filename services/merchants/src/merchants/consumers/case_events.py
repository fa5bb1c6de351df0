"""Groups `merchants.on-complaints` and `merchants.on-mediation`: case events become webhook deliveries and
scorecard facts.

Each handler runs in the inbox consumer's transaction, so the delivery row and the facts commit together
with the inbox row: an event is owed to its enterprise, and counted, exactly once. The consumer may run several
events' handlers in one transaction; each handler's statements stand on their own (conditional inserts), so that
changes nothing, and the facts of the whole fetch are folded in one execution after its handlers (`queue_write`).
Event types neither step can use get no handler, so the consumer skips them without a transaction.
`personal_data_erased.v1` also empties the personal fields of the deliveries about its complaint.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from merchants.scorecards import service as scorecard_service
from merchants.webhooks import service as webhook_service
from merchants.webhooks.events import WEBHOOK_EVENT_TYPES
from merchants.webhooks.subscriptions import EndpointSubscriptions
from servicekit.contracts import complaints_v1, mediation_v1
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler

ON_COMPLAINTS = "merchants.on-complaints"
ON_MEDIATION = "merchants.on-mediation"


def handlers(*, retry_window: timedelta,
             subscriptions: EndpointSubscriptions | None = None) -> dict[str, dict[str, Handler]]:
    """Handlers per consumer group: every case event type a webhook or a scorecard can use."""

    async def on_case_event(session: AsyncSession, envelope: EventEnvelope) -> None:
        await webhook_service.record_delivery(session, envelope, retry_window=retry_window,
                                              subscriptions=subscriptions)
        scorecard_service.record_facts(session, envelope)

    async def on_personal_data_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
        await on_case_event(session, envelope)
        erased = complaints_v1.PersonalDataErased.model_validate(envelope.data)
        await webhook_service.erase_complaint_payloads(session, erased.complaint_id)

    used = WEBHOOK_EVENT_TYPES | scorecard_service.FACT_EVENT_TYPES
    chosen: dict[str, dict[str, Handler]] = {
        group: {contract.event_type: on_case_event for contract in contracts if contract.event_type in used}
        for group, contracts in ((ON_COMPLAINTS, complaints_v1.CONTRACTS), (ON_MEDIATION, mediation_v1.CONTRACTS))
    }
    chosen[ON_COMPLAINTS][complaints_v1.PersonalDataErased.event_type] = on_personal_data_erased
    return chosen
