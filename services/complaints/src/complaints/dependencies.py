"""Request-scoped dependencies of the complaints routers: event publisher, stores, rules and periods.

They are all `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per dependency per
request for what is only an attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from complaints.database import outbox
from complaints.deadline.service import NegotiationPeriods
from complaints.live import CaseChanges
from complaints.notifications.service import NotifyingOutbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.app import ServiceRuntime, get_runtime
from servicekit.uploads import FileStore

EVIDENCE_STORE = "evidence_store"
CASE_CHANGES = "case_changes"
PUBLISHER = "publisher"
NEGOTIATION_PERIODS = "negotiation_periods"


async def _store(request: Request) -> FileStore:
    store: FileStore = get_runtime(request).extras[EVIDENCE_STORE]
    return store


async def _changes(request: Request) -> CaseChanges:
    changes: CaseChanges = get_runtime(request).extras[CASE_CHANGES]
    return changes


def negotiation_periods_of(runtime: ServiceRuntime) -> NegotiationPeriods:
    """The per-region negotiation periods configured for this service, built once per runtime like its publisher."""
    periods = runtime.extras.get(NEGOTIATION_PERIODS)
    if periods is None:
        settings = runtime.settings
        assert isinstance(settings, ComplaintsSettings)
        periods = runtime.extras[NEGOTIATION_PERIODS] = NegotiationPeriods(settings.merchant_negotiation_working_days)
    assert isinstance(periods, NegotiationPeriods)
    return periods


async def _negotiation_periods(request: Request) -> NegotiationPeriods:
    return negotiation_periods_of(get_runtime(request))


def publisher_of(runtime: ServiceRuntime) -> Publisher:
    """The service's event publisher, built once per runtime: it holds nothing of a request."""
    publisher = runtime.extras.get(PUBLISHER)
    if publisher is None:
        publisher = runtime.extras[PUBLISHER] = Publisher(
            outbox=NotifyingOutbox(outbox, runtime.settings.service_name, runtime.cipher),
            source=runtime.settings.service_name, cipher=runtime.cipher)
    assert isinstance(publisher, Publisher)
    return publisher


async def _publisher(request: Request) -> Publisher:
    return publisher_of(get_runtime(request))


Events = Annotated[Publisher, Depends(_publisher)]
Store = Annotated[FileStore, Depends(_store)]
Changes = Annotated[CaseChanges, Depends(_changes)]
Periods = Annotated[NegotiationPeriods, Depends(_negotiation_periods)]
