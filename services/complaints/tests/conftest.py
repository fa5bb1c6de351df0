"""Complaints test fixtures: a freshly migrated database, the app on it (relay and consumer running), helpers."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from complaints_support import NEGOTIATION_WORKING_DAYS, PII_KEY, Area, ChangeEnrollment, Consumer, Count, Seed
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.consumers import merchants as merchant_events
from complaints.main import create_app
from complaints.settings import ComplaintsSettings
from servicekit import regions
from servicekit.auth import TokenIssuer
from servicekit.contracts.merchants_v1 import EnrollmentApproved, EnrollmentStatusChanged
from servicekit.db import create_engine, create_sessionmaker
from servicekit.testing.infra import migrated_database, own_broker, running_app
from servicekit.testing.plugin import Tokens


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with own_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
async def complaints_db(database_url: str, db_prefix: str) -> AsyncIterator[str]:
    """The service's database, made from an empty one by its Alembic migrations."""
    async with migrated_database(database_url, f"{db_prefix}_complaints", "complaints") as name:
        yield name


@pytest.fixture(scope="session")
def settings(database_url: str, complaints_db: str, kafka_bootstrap: str, token_issuer: TokenIssuer,
             tmp_path_factory: pytest.TempPathFactory) -> ComplaintsSettings:
    return ComplaintsSettings(database_url=database_url, database_name=complaints_db, kafka_bootstrap=kafka_bootstrap,
                              jwt_public_key=token_issuer.public_key_pem(), environment="test",
                              pii_key=SecretStr(PII_KEY), evidence_dir=tmp_path_factory.mktemp("evidence"),
                              merchant_negotiation_working_days=NEGOTIATION_WORKING_DAYS,
                              # The text-message tests drive the dispatcher themselves, with the sender they test.
                              sms_dispatch_enabled=False)


@pytest.fixture(scope="session")
async def engine(settings: ComplaintsSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture(scope="session")
async def app(settings: ComplaintsSettings, kafka_bootstrap: str) -> AsyncIterator[FastAPI]:
    async with running_app(create_app(settings), kafka_bootstrap) as app:
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://complaints") as client:
        yield client


def _area(prefecture: str) -> Area:
    return Area(prefecture, tuple(region.code for region in regions.children(prefecture)))


# Region codes must be real (intake checks them against servicekit.regions), and only Qinghai is held down to county
# level. Most tests share the areas below; a test that counts everything in an area takes one of its own.
# Seven prefectures are held for exclusive use; the shared tests all file into Haixi.
_shared_areas = itertools.cycle([_area("632800")])
_own_areas = iter([_area(code) for code in ("630100", "630200", "632200", "632300", "632500", "632600", "632700")])


@pytest.fixture
def area() -> Area:
    """A prefecture with at least three counties; other tests of the session file cases there too."""
    return next(_shared_areas)


@pytest.fixture
def own_area() -> Area:
    """A prefecture no other test of this session files into (a handful exist: use only to count whole areas)."""
    found = next(_own_areas, None)
    if found is None:
        raise RuntimeError("no area left for exclusive use: share one, or reserve another prefecture")
    return found


@pytest.fixture
def consumer(tokens: Tokens) -> Consumer:
    """Factory: a new consumer's sub and the Authorization header of its token."""

    def make() -> tuple[str, dict[str, str]]:
        sub = f"consumer-{uuid.uuid4().hex[:12]}"
        return sub, {"Authorization": f"Bearer {tokens.consumer(sub)}"}

    return make


def _seeder(sessionmaker: async_sessionmaker[AsyncSession]) -> Seed:

    async def seed(region_code: str, name: str = "格尔木枸杞专卖店") -> uuid.UUID:
        merchant_id = uuid.uuid4()
        event = EnrollmentApproved(merchant_id=merchant_id, name=name, uscc="91632801MA7XXXXX0Q",
                                   region_code=region_code, sector="online_shopping", approved_at=datetime.now(UTC))
        async with sessionmaker() as session, session.begin():
            await merchant_events.HANDLERS[event.event_type](session, event.envelope(source="merchants"))
        return merchant_id

    return seed


@pytest.fixture
def enrolled_merchant(sessionmaker: async_sessionmaker[AsyncSession]) -> Seed:
    """Factory: apply merchants' approval event to the replica, as the consumer would, in one transaction."""
    return _seeder(sessionmaker)


@pytest.fixture(scope="module")
def enrolled_merchant_module(sessionmaker: async_sessionmaker[AsyncSession]) -> Seed:
    """The same factory for module-scoped fixtures."""
    return _seeder(sessionmaker)


@pytest.fixture(scope="module")
def stats_area() -> Area:
    """A prefecture of its own for a module that counts everything filed in it."""
    found = next(_own_areas, None)
    if found is None:
        raise RuntimeError("no area left for exclusive use: share one, or reserve another prefecture")
    return found


@pytest.fixture
def change_enrollment(sessionmaker: async_sessionmaker[AsyncSession]) -> ChangeEnrollment:
    """Factory: apply a suspension, reinstatement or revocation event to the replica."""

    async def change(contract: type[EnrollmentStatusChanged], merchant_id: uuid.UUID,
                     at: datetime | None = None) -> None:
        event = contract(merchant_id=merchant_id, reason="test", changed_at=at or datetime.now(UTC))
        async with sessionmaker() as session, session.begin():
            await merchant_events.HANDLERS[contract.event_type](session, event.envelope(source="merchants"))

    return change


@pytest.fixture
def count(engine: AsyncEngine) -> Count:
    """Rows of a table, optionally filtered by a SQL condition with bound parameters."""

    async def rows(table: str, where: str = "TRUE", **params: Any) -> int:
        async with engine.connect() as connection:
            result = await connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params)
            return int(result.scalar_one())

    return rows
