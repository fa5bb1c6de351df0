"""Groups `merchants.on-complaints` and `merchants.on-mediation`: case events become webhook deliveries and
scorecard facts.

Each handler runs in the inbox consumer's transaction, so the delivery row and the facts commit together
with the inbox row: an event is owed to its enterprise, and counted, exactly once. `personal_data_erased.v1`
also empties the personal fields of the deliveries about its complaint.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from merchants.scorecards import service as scorecard_service
from merchants.webhooks import service as webhook_service
from servicekit.contracts import complaints_v1, mediation_v1
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler

ON_COMPLAINTS = "merchants.on-complaints"
ON_MEDIATION = "merchants.on-mediation"


def handlers(*, retry_window: timedelta) -> dict[str, dict[str, Handler]]:
    """Handlers per consumer group: every case event type of the other services."""

    async def on_case_event(session: AsyncSession, envelope: EventEnvelope) -> None:
        await webhook_service.record_delivery(session, envelope, retry_window=retry_window)
        await scorecard_service.record_facts(session, envelope)

    async def on_personal_data_erased(session: AsyncSession, envelope: EventEnvelope) -> None:
        await on_case_event(session, envelope)
        erased = complaints_v1.PersonalDataErased.model_validate(envelope.data)
        await webhook_service.erase_complaint_payloads(session, erased.complaint_id)

    on_complaints: dict[str, Handler] = {contract.event_type: on_case_event for contract in complaints_v1.CONTRACTS}
    on_complaints[complaints_v1.PersonalDataErased.event_type] = on_personal_data_erased
    return {
        ON_COMPLAINTS: on_complaints,
        ON_MEDIATION: {contract.event_type: on_case_event for contract in mediation_v1.CONTRACTS},
    }
