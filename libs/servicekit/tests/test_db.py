"""The asyncpg DSN derived from a service's SQLAlchemy URL reaches the database it names."""

from __future__ import annotations

import asyncpg

from servicekit.db import asyncpg_dsn


async def test_the_dsn_reaches_the_named_database(database_url: str, spine_database: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(database_url, spine_database))
    try:
        assert await connection.fetchval("SELECT current_database()") == spine_database
    finally:
        await connection.close()


def test_the_dsn_keeps_credentials_and_drops_the_driver() -> None:
    url = "postgresql+asyncpg://odr:s3cret@db.internal:5433/complaints"

    assert asyncpg_dsn(url) == "postgresql://odr:s3cret@db.internal:5433/complaints"
    assert asyncpg_dsn(url, "postgres") == "postgresql://odr:s3cret@db.internal:5433/postgres"
