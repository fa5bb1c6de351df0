"""Mediation test fixtures: a freshly migrated database, topics on the session broker, the app and its handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from mediation_testkit import PII_KEY, ApplyEvent
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mediation.consumers.complaints import complaint_handlers
from mediation.database import outbox as outbox_table
from mediation.main import create_app
from mediation.settings import MediationSettings
from servicekit.auth import TokenIssuer
from servicekit.db import create_engine, create_sessionmaker
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler, queueing_writes
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.infra import migrated_database, own_broker, running_app
from servicekit.uploads import LocalDiskStore


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with own_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
async def mediation_db(database_url: str, db_prefix: str) -> AsyncIterator[str]:
    async with migrated_database(database_url, f"{db_prefix}_mediation", "mediation") as name:
        yield name


@pytest.fixture(scope="session")
def settings(database_url: str, mediation_db: str, kafka_bootstrap: str, token_issuer: TokenIssuer,
             tmp_path_factory: pytest.TempPathFactory) -> MediationSettings:
    return MediationSettings(database_url=database_url, database_name=mediation_db, kafka_bootstrap=kafka_bootstrap,
                             jwt_public_key=token_issuer.public_key_pem(), environment="test",
                             pii_key=SecretStr(PII_KEY), attachment_dir=tmp_path_factory.mktemp("attachments"),
                             # The app's own sweep runs once at start-up; tests drive sweepers with injected clocks.
                             sweep_interval_seconds=3600)


@pytest.fixture(scope="session")
async def engine(settings: MediationSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def outbox(settings: MediationSettings) -> Outbox:
    return Outbox(outbox_table, settings.service_name)


@pytest.fixture(scope="session")
def handlers(settings: MediationSettings, outbox: Outbox) -> dict[str, Handler]:
    return complaint_handlers(outbox=outbox, cipher=PiiCipher(PII_KEY), settings=settings,
                              attachments=LocalDiskStore(settings.attachment_dir))



@pytest.fixture(scope="session")
def apply_event(sessionmaker: async_sessionmaker[AsyncSession], handlers: dict[str, Handler]) -> ApplyEvent:
    """Run the events' handlers in one transaction, as the inbox consumer does with a fetch (without the inbox
    rows)."""

    async def apply(*envelopes: EventEnvelope) -> None:
        async with sessionmaker() as session, session.begin(), queueing_writes(session):
            for envelope in envelopes:
                await handlers[envelope.type](session, envelope)

    return apply


# Module scope: the app's consumer leaves the group when a module ends, so it never competes with
# consumers that later tests (end to end) start in the same group on the same broker.
@pytest.fixture(scope="module")
async def app(settings: MediationSettings) -> AsyncIterator[FastAPI]:
    async with running_app(create_app(settings), settings.kafka_bootstrap) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://mediation") as client:
        yield client
