"""Merchants test fixtures: a freshly migrated database, the app on it, and approved demo-like merchants."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from merchants_testkit import (
    INTERNAL_TOKEN,
    REVIEWER,
    WEBHOOK_DISABLE_AFTER,
    WEBHOOK_POLL_INTERVAL,
    ApproveMerchant,
    merchant_details,
)
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from merchants.credentials.service import IssuedClient
from merchants.database import outbox as outbox_table
from merchants.enrollment import service as enrollment_service
from merchants.main import create_app
from merchants.settings import MerchantsSettings
from servicekit.auth import TokenIssuer
from servicekit.db import create_engine, create_sessionmaker
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.infra import migrated_database, own_broker, running_app


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with own_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
async def merchants_db(database_url: str, db_prefix: str) -> AsyncIterator[str]:
    async with migrated_database(database_url, f"{db_prefix}_merchants", "merchants") as name:
        yield name


@pytest.fixture(scope="session")
def settings(database_url: str, merchants_db: str, kafka_bootstrap: str, token_issuer: TokenIssuer,
             tmp_path_factory: pytest.TempPathFactory) -> MerchantsSettings:
    return MerchantsSettings(database_url=database_url, database_name=merchants_db, kafka_bootstrap=kafka_bootstrap,
                             jwt_public_key=token_issuer.public_key_pem(), environment="test",
                             internal_token=SecretStr(INTERNAL_TOKEN),
                             licence_dir=tmp_path_factory.mktemp("licences"),
                             # Receivers started by the tests listen on loopback; retries come fast. The fallback
                             # poll is slow, so a delivery that comes quickly proves the worker was woken.
                             webhook_allowed_networks=["127.0.0.1"], webhook_poll_interval=WEBHOOK_POLL_INTERVAL,
                             webhook_backoff_base_seconds=0.2, webhook_backoff_max_seconds=1.0,
                             webhook_disable_after_failures=WEBHOOK_DISABLE_AFTER, webhook_disable_after_seconds=0)


@pytest.fixture(scope="session")
async def engine(settings: MerchantsSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
def outbox(settings: MerchantsSettings) -> Outbox:
    return Outbox(outbox_table, settings.service_name)


# Session scope: its inbox consumers join their groups once (a join, and leaving one, takes seconds on Tansu).
@pytest.fixture(scope="session")
async def app(settings: MerchantsSettings) -> AsyncIterator[FastAPI]:
    async with running_app(create_app(settings), settings.kafka_bootstrap) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://merchants") as client:
        yield client


@pytest.fixture
def approved_merchant(sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
                      settings: MerchantsSettings) -> ApproveMerchant:
    """Factory: register a new merchant, approve it, return its first client."""
    cipher = PiiCipher(settings.pii_key.get_secret_value())

    async def make() -> IssuedClient:
        async with sessionmaker() as session:
            enrollment = await enrollment_service.apply_for_enrollment(session, details=merchant_details(),
                                                                       actor=REVIEWER, cipher=cipher)
            return await enrollment_service.approve_enrollment(session, outbox=outbox, enrollment_id=enrollment.id,
                                                               actor=REVIEWER, cipher=cipher)

    return make
