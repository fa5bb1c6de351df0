"""After a restart of the in-memory broker the runner re-publishes retained events, bounded by the retention period
(issue 14, item 9): rows published within it are sent again, older ones and unpublished ones are left alone."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import NullPool, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from odr_runner.credentials import StackSecrets
from odr_runner.stack import OUTBOX, SERVICES, Stack, StackConfig
from servicekit.db import utcnow
from servicekit.testing.infra import TestInfra


async def test_requeue_is_bounded_by_the_retention_period(test_infra: TestInfra, db_prefix: str, repo_root: Path,
                                                           tmp_path: Path) -> None:
    config = StackConfig(repo_root=repo_root, work_dir=tmp_path, secrets=StackSecrets.generate(),
                         database_url=test_infra.database_url, database_prefix=f"{db_prefix}_requeue",
                         fresh_databases=True,
                         settings_overrides={service: {"ODR_EVENT_RETENTION_HOURS": "24"} for service in SERVICES})
    stack = Stack(config, report=lambda message: None)
    await stack.create_databases()
    try:
        await stack.migrate()
        now = utcnow()
        published = {"old": now - timedelta(hours=30), "recent": now - timedelta(hours=2), "pending": None}
        for service in SERVICES:
            url = make_url(stack.database_url).set(drivername="postgresql+asyncpg",
                                                   database=config.database_name(service))
            engine = create_async_engine(url, poolclass=NullPool)
            async with engine.begin() as connection:
                await connection.execute(OUTBOX.insert(), [
                    {"id": uuid.uuid4(), "topic": "t", "aggregate_id": name, "event_type": "t.x.v1", "headers": {},
                     "payload": {}, "published_at": at} for name, at in published.items()])
            await engine.dispose()

        assert await stack.requeue_published() == len(SERVICES)

        for service in SERVICES:
            url = make_url(stack.database_url).set(drivername="postgresql+asyncpg",
                                                   database=config.database_name(service))
            engine = create_async_engine(url, poolclass=NullPool)
            async with engine.connect() as connection:
                rows = dict((await connection.execute(select(OUTBOX.c.aggregate_id, OUTBOX.c.published_at))).all())
            await engine.dispose()
            assert rows == {"old": published["old"], "recent": None, "pending": None}, service
    finally:
        await stack.drop_databases()
