"""The service's background jobs, by the name the supervisor logs them under."""

from __future__ import annotations

from datetime import timedelta

from complaints import idempotency
from complaints.complaint.jobs import BreachSweeper
from complaints.consultation.jobs import ConsultationSweeper
from complaints.consumers import mediation as mediation_events
from complaints.consumers import merchants as merchant_events
from complaints.database import inbox, outbox
from complaints.dependencies import CASE_CHANGES, EVIDENCE_STORE, publisher_of
from complaints.notifications.jobs import DeadlineNotices, SmsDispatcher
from complaints.notifications.service import prune_settled as prune_settled_sms
from complaints.personal_data.jobs import PersonalDataEraser
from complaints.settings import ComplaintsSettings
from complaints.stats.jobs import StatsCompactor
from servicekit.app import BackgroundJob, ServiceRuntime
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.retention import RetentionJob


def background_jobs(runtime: ServiceRuntime, settings: ComplaintsSettings) -> dict[str, BackgroundJob]:
    """The outbox relay, the consumers of merchants' and mediation's events, the deadline sweeper, the statistics
    compactor, the consultation sweeper, the listener behind the live streams, the pruner of expired event rows
    and idempotency keys, the text-message dispatcher with its scan for negotiation periods about to end, and the
    eraser of personal data past its retention period."""
    publisher = publisher_of(runtime)
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
        handlers=mediation_events.mediation_handlers(publisher=publisher, cipher=runtime.cipher),
        sessionmaker=runtime.sessionmaker,
        inbox=inbox,
        settings=runtime.settings,
    )
    sweeper = BreachSweeper(sessionmaker=runtime.sessionmaker, publisher=publisher,
                            interval=settings.deadline_sweep_interval)
    consultation_sweeper = ConsultationSweeper(sessionmaker=runtime.sessionmaker,
                                               interval=settings.deadline_sweep_interval)
    compactor = StatsCompactor(sessionmaker=runtime.sessionmaker, interval=settings.stats_fold_interval)
    retention = RetentionJob(
        runtime.sessionmaker, outbox=outbox, inbox=inbox, retention=timedelta(hours=settings.event_retention_hours),
        interval=settings.retention_prune_interval,
        extra=[("idempotency_key", lambda session, now: idempotency.prune(session, now=now)),
               ("sms_outbox", lambda session, now: prune_settled_sms(
                   session, older_than=now - timedelta(hours=settings.event_retention_hours)))])
    jobs: dict[str, BackgroundJob] = {
        "outbox-relay": relay.run,
        f"consumer-{merchant_events.GROUP}": on_merchants.run,
        f"consumer-{mediation_events.GROUP}": on_mediation.run,
        "deadline-sweeper": sweeper.run,
        "consultation-sweeper": consultation_sweeper.run,
        "stats-compactor": compactor.run,
        "case-changes": runtime.extras[CASE_CHANGES].run,
        "retention-pruner": retention.run,
        "sms-deadline-notices": DeadlineNotices(runtime.sessionmaker, runtime.cipher, settings).run,
        "personal-data-eraser": PersonalDataEraser(
            runtime.sessionmaker, publisher=publisher, cipher=runtime.cipher, store=runtime.extras[EVIDENCE_STORE],
            retention=timedelta(days=settings.personal_data_retention_days),
            interval=settings.personal_data_erasure_interval).run,
    }
    if settings.sms_dispatch_enabled:
        jobs["sms-dispatcher"] = SmsDispatcher(runtime.sessionmaker, runtime.cipher, settings).run
    return jobs
