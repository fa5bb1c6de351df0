"""The service application factory: one lifespan wiring db, outbox relay, consumers and sweepers."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.admission import AdmissionGate, AdmissionMiddleware
from servicekit.auth import VERIFIED_TOKEN_SECONDS, TokenVerifier
from servicekit.db import create_engine, create_sessionmaker
from servicekit.dbfailures import install_database_outage_handler
from servicekit.events.outbox import Outbox
from servicekit.notify import notifications_sent
from servicekit.observability import (
    ReadinessCheck,
    configure_logging,
    get_logger,
    health_router,
    install_request_context,
)
from servicekit.pii import PiiCipher
from servicekit.problems import install_problem_documentation, install_problem_handlers, schema_routes
from servicekit.settings import ServiceSettings
from servicekit.tracing import FASTAPI_TELEMETRY_OFF, configure_tracing

BackgroundJob = Callable[[], Awaitable[None]]

# Verified tokens a service keeps (see TokenVerifier): about 1 KB each.
VERIFIED_TOKENS_KEPT = 10_000


@dataclass
class ServiceRuntime:
    """What a running service holds: built in the lifespan, reached through `request.app.state.runtime`."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    outbox: Outbox
    cipher: PiiCipher
    extras: dict[str, Any] = field(default_factory=dict)


async def supervise(name: str, job: BackgroundJob, *, max_backoff: float = 30.0) -> None:
    """Run a long-lived job forever; after a crash (broker restart, db failover) start it again, backing off."""
    log = get_logger("servicekit.supervisor")
    backoff = 0.5
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job crashed; restarting", job=name, in_seconds=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


@runtime_checkable
class GracefulJob(Protocol):
    """A job object that can finish its current unit of work and return when asked (relay, inbox consumer)."""

    def request_stop(self) -> None: ...


async def stop_jobs(jobs: dict[str, BackgroundJob], tasks: dict[str, asyncio.Task[None]], *, grace: float) -> None:
    """Ask the graceful jobs to finish and wait up to `grace` seconds for them; cancel whatever still runs."""
    graceful = []
    for name, job in jobs.items():
        owner = getattr(job, "__self__", None)
        if isinstance(owner, GracefulJob):
            owner.request_stop()
            graceful.append(tasks[name])
    if graceful:
        _, late = await asyncio.wait(graceful, timeout=grace)
        if late:
            get_logger("servicekit.app").warning("jobs did not finish within the shutdown grace; cancelled",
                                                 jobs=sorted(task.get_name() for task in late))
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


# The cyclic collector's first threshold (CPython's default is 700 allocations). A request allocates thousands of
# objects that reference counting frees by itself; collecting every 700 allocations re-examined the objects of every
# request in flight again and again, about 3 % of a busy complaints process's CPU (measured with gc.callbacks).
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Once the process has started: everything allocated so far (modules, routes, tables, caches' first entries)
    lives as long as the process, so it is moved out of the collector's sight (`gc.freeze`), where every full
    collection walked it again (about 190,000 objects, 100 ms of a stalled event loop each time), and young
    collections are made rarer."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    outbox_table: Table,
    background: Callable[[ServiceRuntime], dict[str, BackgroundJob]] | None = None,
    on_startup: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
) -> FastAPI:
    """Build a service: routers, problem handlers, request context, health, and its background jobs."""
    configure_logging(settings.service_name, level=settings.log_level, json_logs=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing = configure_tracing(settings.service_name, enabled=settings.otel_enabled,
                                    endpoint=settings.otel_exporter_endpoint)
        engine = create_engine(settings)
        runtime = ServiceRuntime(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            outbox=Outbox(outbox_table, settings.service_name),
            cipher=PiiCipher(settings.pii_key.get_secret_value()),
        )
        app.state.runtime = runtime
        app.state.token_verifier = TokenVerifier(settings.jwt_public_key, settings.jwt_issuer,
                                                 cache_size=VERIFIED_TOKENS_KEPT, cache_seconds=VERIFIED_TOKEN_SECONDS)
        if on_startup is not None:
            await on_startup(runtime)
        jobs = background(runtime) if background else {}
        tasks = {name: asyncio.create_task(supervise(name, job), name=name) for name, job in jobs.items()}
        settle_heap()
        try:
            yield
        finally:
            # uvicorn comes here after it stopped accepting and its in-flight requests finished: the relay then
            # publishes what they committed and the consumers commit what they applied, before anything is cut.
            await stop_jobs(jobs, tasks, grace=settings.shutdown_grace_seconds)
            await notifications_sent()
            await engine.dispose()
            if tracing is not None:
                # Flushes the spans still batched, off the event loop (the exporter's calls block).
                await asyncio.to_thread(tracing.shutdown)

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan,
                  generate_unique_id_function=lambda route: route.name, telemetry=FASTAPI_TELEMETRY_OFF)
    install_problem_handlers(app)
    install_problem_documentation(app)
    install_database_outage_handler(app, settings.database_retry_after_seconds)
    # Inside the request context, so refusals are counted and carry request ids like any answer.
    app.add_middleware(AdmissionMiddleware, retry_after_seconds=settings.admission_retry_after_seconds,
                       gate=AdmissionGate(settings.service_name, limit=settings.admission_limit,
                                          queue_limit=settings.admission_queue,
                                          wait_seconds=settings.admission_wait_seconds))
    install_request_context(app, settings.service_name)
    app.include_router(health_router(_readiness_checks))
    for router in routers:
        app.include_router(router)
    _refuse_duplicate_operation_ids(app)
    return app


def _refuse_duplicate_operation_ids(app: FastAPI) -> None:
    """Operation ids are the handlers' names (clients generated from the document name their methods after them):
    two handlers of one name would make two operations of one id."""
    names = [route.name for route in schema_routes(app.routes)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"operation ids must be unique; handlers named alike: {duplicates}")


def _readiness_checks(request: Request) -> dict[str, ReadinessCheck]:
    """Ready means able to serve requests: the database answers. Kafka is left out on purpose: while the broker is
    away, events wait in the outbox and requests are still served; failing readiness would take every replica (and,
    through it, the gateway) out of rotation for nothing. Broker trouble shows in the outbox backlog alert."""
    runtime: ServiceRuntime = request.app.state.runtime

    async def database() -> None:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return {"database": database}


def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime
