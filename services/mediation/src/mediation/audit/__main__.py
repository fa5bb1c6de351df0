"""Offline verification of a region's outcome chain: ``python -m mediation.audit verify --region 632801``.

Reads the database settings from the environment (ODR_DATABASE_URL, ODR_DATABASE_NAME); prints the result as
JSON and exits 0 when the chain holds, 1 when it is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mediation.audit import chain
from mediation.settings import MediationSettings
from servicekit.db import create_engine, create_sessionmaker


async def _verify(region: str) -> chain.Verification:
    engine = create_engine(MediationSettings(), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            return await chain.verify(session, region)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, verify, print; the exit status says whether the chain holds."""
    parser = argparse.ArgumentParser(prog="python -m mediation.audit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="recompute a region's chain and name the first broken entry")
    verify.add_argument("--region", required=True, help="GB/T 2260 region code, e.g. 632801")
    arguments = parser.parse_args(argv)
    result = asyncio.run(_verify(arguments.region))
    print(json.dumps({"region": arguments.region, "ok": result.ok, "entries": result.entries,
                      "first_broken": result.first_broken}, ensure_ascii=False))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
