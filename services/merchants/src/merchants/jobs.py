"""The background jobs of the merchants service: the outbox relay, the webhook dispatcher, the scorecard evaluator,
the case-event consumers and what keeps their record of webhook subscriptions fresh."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from merchants.consumers import case_events
from merchants.database import inbox, outbox
from merchants.scorecards.jobs import evaluator
from merchants.sessions.service import prune_ended as prune_ended_sessions
from merchants.settings import MerchantsSettings
from merchants.webhooks.jobs import WebhookDispatcher
from merchants.webhooks.subscriptions import EndpointSubscriptions
from servicekit.app import BackgroundJob, ServiceRuntime
from servicekit.events.inbox import InboxConsumer
from servicekit.events.relay import OutboxRelay
from servicekit.events.topics import CONSUMER_GROUPS
from servicekit.retention import RetentionJob


def background_jobs(runtime: ServiceRuntime, settings: MerchantsSettings) -> dict[str, BackgroundJob]:
    """Every job the service runs beside its HTTP API, by name."""
    relay = OutboxRelay(engine=runtime.engine, outbox=runtime.outbox, settings=settings)
    dispatcher = WebhookDispatcher(engine=runtime.engine, sessionmaker=runtime.sessionmaker,
                                   outbox=runtime.outbox, settings=settings, cipher=runtime.cipher)
    jobs: dict[str, BackgroundJob] = {"outbox-relay": relay.run, "webhook-dispatcher": dispatcher.run,
                                      "scorecard-evaluator": evaluator(runtime.sessionmaker, settings)}
    jobs["retention-pruner"] = RetentionJob(runtime.sessionmaker, outbox=outbox, inbox=inbox,
                                            retention=timedelta(hours=settings.event_retention_hours),
                                            interval=settings.retention_prune_interval,
                                            extra=[("session families", prune_ended_sessions)]).run
    retry_window = timedelta(seconds=settings.webhook_retry_window_seconds)
    subscriptions = EndpointSubscriptions(ttl=settings.webhook_subscriptions_ttl_seconds)
    jobs["webhook-subscriptions"] = partial(subscriptions.listen, runtime.engine)
    for group, handlers in case_events.handlers(retry_window=retry_window, subscriptions=subscriptions).items():
        consumer = InboxConsumer(group=group, topics=CONSUMER_GROUPS[group], handlers=handlers,
                                 sessionmaker=runtime.sessionmaker, inbox=inbox, settings=settings)
        jobs[f"consumer-{group}"] = consumer.run
    return jobs
