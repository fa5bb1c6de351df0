"""`python -m complaints.stats rebuild`: recompute the statistics cubes from the case rows in one transaction.

Run it after a bulk load that bypassed the triggers (COPY with `session_replication_role = replica`) or to recover
from any doubt about the cubes; the service's settings (ODR_* environment) name the database. Filings and
transitions wait while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from complaints.settings import ComplaintsSettings
from complaints.stats.service import rebuild
from servicekit.db import create_engine, create_sessionmaker


async def rebuild_statistics(settings: ComplaintsSettings) -> int:
    """Rebuild in one transaction; returns the number of cases counted."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await rebuild(session)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m complaints.stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args(argv)
    began = time.monotonic()
    cases = asyncio.run(rebuild_statistics(ComplaintsSettings()))
    print(f"statistics rebuilt from {cases} cases in {time.monotonic() - began:.1f} s")


if __name__ == "__main__":
    main()
