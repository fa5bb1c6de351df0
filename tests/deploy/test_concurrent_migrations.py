"""Replicas that start together each run `alembic upgrade head` (deploy/k8s runs it in an init container): the
runs must not collide, and the schema must end at head exactly once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from servicekit.db import asyncpg_dsn
from servicekit.testing.infra import TestInfra, drop_database, migrate, recreate_database


@pytest.mark.parametrize("service", ["complaints", "merchants", "mediation"])
async def test_upgrades_started_together_both_succeed(test_infra: TestInfra, db_prefix: str, service: str) -> None:
    name = f"{db_prefix}_concurrent_{service}"
    await recreate_database(test_infra.database_url, name)
    try:
        runs = [asyncio.to_thread(migrate, service, test_infra.database_url, name) for _ in range(3)]
        await asyncio.gather(*runs)
        connection = await asyncpg.connect(asyncpg_dsn(test_infra.database_url, name))
        try:
            versions = await connection.fetch("SELECT version_num FROM alembic_version")
        finally:
            await connection.close()
        assert len(versions) == 1
    finally:
        await drop_database(test_infra.database_url, name)
