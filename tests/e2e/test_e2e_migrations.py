"""Every service's schema comes from its Alembic migrations, applied from an empty database in this session."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime

import asyncpg
import pytest

from odr_runner.stack import SERVICES, Stack

pytestmark = pytest.mark.e2e


def alembic_heads(stack: Stack, service: str) -> set[str]:
    """The head revisions of a service's migration scripts, as `alembic heads` prints them."""
    result = subprocess.run(
        [stack.config.python, "-m", "alembic", "-c", "alembic.ini", "heads"],
        cwd=stack.config.repo_root / "services" / service, env=stack.service_env(service),
        capture_output=True, text=True, check=True,
    )
    return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


@pytest.mark.parametrize("service", SERVICES)
async def test_database_is_at_the_migration_head(
    service: str, e2e_stack: Stack, database_dsn: Callable[[str], str]
) -> None:
    heads = alembic_heads(e2e_stack, service)
    assert heads, f"{service} has no migrations"
    connection = await asyncpg.connect(database_dsn(service))
    try:
        applied = {row["version_num"] for row in await connection.fetch("SELECT version_num FROM alembic_version")}
        tables = {row["tablename"] for row in
                  await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    finally:
        await connection.close()
    assert applied == heads
    assert {"outbox", "alembic_version"} <= tables


@pytest.mark.parametrize("service", SERVICES)
async def test_database_was_created_in_this_session(
    service: str, e2e_started_at: datetime, database_dsn: Callable[[str], str]
) -> None:
    """The upgrade above ran on a database made empty by this session, not on one left from earlier."""
    connection = await asyncpg.connect(database_dsn(service))
    try:
        created_at = await connection.fetchval(
            "SELECT (pg_stat_file('base/' || oid || '/PG_VERSION')).modification FROM pg_database"
            " WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    assert created_at >= e2e_started_at
