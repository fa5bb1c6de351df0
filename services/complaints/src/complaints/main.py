"""The complaints service: `uvicorn complaints.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from complaints.api import ROUTERS
from complaints.complaint.jobs import BreachSweeper
from complaints.consumers import mediation as mediation_events
from complaints.consumers import merchants as merchant_events
from complaints.database import inbox, outbox
from complaints.dependencies import CASE_CHANGES, EVIDENCE_STORE, PII_CIPHER
from complaints.evidence.storage import evidence_store
from complaints.live import CaseChanges
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from complaints.stats.scheduled import StatsCompactor
from servicekit.app import BackgroundJob, ServiceRuntime, create_service_app
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.pii import PiiCipher

DESCRIPTION = """Intake, jurisdiction, routing, regulator decisions, statutory deadlines and timeline of consumer
complaints (投诉) and reports (举报) under SAMR Order 121.

Complaint statuses: submitted -> with_merchant (ODR negotiation, 10 working days unless the region set another
period) | pending_acceptance (the regulator decides within 7 working days) -> accepted (regulator mediation) ->
closed_settled | closed_terminated; or closed_refused (Art. 16 ground 1-7); withdrawn by the consumer from any open
status. Report statuses: received -> verifying -> case_opened | not_opened (15 working days, +15 on approval).
Invalid moves answer 409.
"""


def create_app(settings: ComplaintsSettings | None = None) -> FastAPI:
    """Build the service from `settings` (from the environment when not given)."""
    settings = settings or ComplaintsSettings()

    async def on_startup(runtime: ServiceRuntime) -> None:
        runtime.extras[PII_CIPHER] = PiiCipher(runtime.settings.pii_key.get_secret_value())
        runtime.extras[EVIDENCE_STORE] = evidence_store(settings)
        runtime.extras[CASE_CHANGES] = CaseChanges(runtime.engine)

    def background(runtime: ServiceRuntime) -> dict[str, BackgroundJob]:
        relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=runtime.settings)
        on_merchants = InboxConsumer(
            group=merchant_events.GROUP,
            topics=CONSUMER_GROUPS[merchant_events.GROUP],
            handlers=merchant_events.HANDLERS,
            sessionmaker=runtime.sessionmaker,
            inbox=inbox,
            settings=runtime.settings,
        )
        on_mediation = InboxConsumer(
            group=mediation_events.GROUP,
            topics=CONSUMER_GROUPS[mediation_events.GROUP],
            handlers=mediation_events.mediation_handlers(
                publisher=Publisher(outbox=runtime.outbox, source=settings.service_name),
                cipher=runtime.extras[PII_CIPHER]),
            sessionmaker=runtime.sessionmaker,
            inbox=inbox,
            settings=runtime.settings,
        )
        sweeper = BreachSweeper(sessionmaker=runtime.sessionmaker,
                                publisher=Publisher(outbox=runtime.outbox, source=settings.service_name),
                                interval=settings.deadline_sweep_interval)
        compactor = StatsCompactor(sessionmaker=runtime.sessionmaker, interval=settings.stats_fold_interval)
        return {
            "outbox-relay": relay.run,
            f"consumer-{merchant_events.GROUP}": on_merchants.run,
            f"consumer-{mediation_events.GROUP}": on_mediation.run,
            "deadline-sweeper": sweeper.run,
            "stats-compactor": compactor.run,
            "case-changes": runtime.extras[CASE_CHANGES].run,
        }

    return create_service_app(
        settings=settings,
        title="ODR complaints",
        description=DESCRIPTION,
        routers=ROUTERS,
        outbox_table=outbox,
        background=background,
        on_startup=on_startup,
    )
