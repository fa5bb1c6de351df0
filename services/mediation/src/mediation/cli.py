"""Operator commands of the mediation service: ``python -m mediation.cli <command>``.

    python -m mediation.cli verify --region 632801

Database settings are read from the environment like the service's (ODR_DATABASE_URL, ODR_DATABASE_NAME).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from mediation.audit import chain
from mediation.settings import MediationSettings
from servicekit.db import create_engine, create_sessionmaker
from servicekit.pii import PiiCipher

VERIFY_HELP = """Offline verification of a region's outcome chain.

Prints the result as JSON and exits 0 when the chain holds, 1 when it is broken.
"""


async def _verify(region: str) -> chain.Verification:
    settings = MediationSettings()
    engine = create_engine(settings, pool_size=1, long_statements=True)
    try:
        async with create_sessionmaker(engine)() as session:
            return await chain.verify(session, region, PiiCipher(settings.pii_key.get_secret_value()))
    finally:
        await engine.dispose()


def verify(arguments: argparse.Namespace) -> int:
    """Verify and print; the exit status says whether the chain holds."""
    result = asyncio.run(_verify(arguments.region))
    print(json.dumps({"region": arguments.region, "ok": result.ok, "entries": result.entries,
                      "first_broken": result.first_broken}, ensure_ascii=False))
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mediation.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    verify_command = commands.add_parser("verify", help="recompute a region's chain and name the first broken entry",
                                         description=VERIFY_HELP,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
    verify_command.add_argument("--region", required=True, help="GB/T 2260 region code, e.g. 632801")
    arguments = parser.parse_args(argv)
    return verify(arguments)


if __name__ == "__main__":
    sys.exit(main())
