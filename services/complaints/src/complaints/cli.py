"""Command-line entry points of the complaints service: `python -m complaints.cli <command>`.

The service's settings (ODR_* environment) name the database.

stats-rebuild: recompute the statistics cubes from the case rows in one transaction. Run it after a bulk load that
bypassed the triggers (COPY with `session_replication_role = replica`) or to recover from any doubt about the cubes.
Filings and transitions wait while it runs.

sms-log: the latest text messages, decrypted, as their recipients read them: what the development sender (the
default, `ODR_SMS_SENDER=dev`) "sent". It needs the service's PII key, as the service does.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from complaints.notifications.service import LoggedMessage, recent_messages
from complaints.settings import ComplaintsSettings
from complaints.stats.service import rebuild
from servicekit.db import create_engine, create_sessionmaker
from servicekit.pii import PiiCipher


async def rebuild_statistics(settings: ComplaintsSettings) -> int:
    """Rebuild in one transaction; returns the number of cases counted."""
    engine = create_engine(settings, long_statements=True)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await rebuild(session)
    finally:
        await engine.dispose()


def _stats_rebuild(_arguments: argparse.Namespace) -> None:
    began = time.monotonic()
    cases = asyncio.run(rebuild_statistics(ComplaintsSettings()))
    print(f"statistics rebuilt from {cases} cases in {time.monotonic() - began:.1f} s")


async def read_sms_log(settings: ComplaintsSettings, limit: int) -> list[LoggedMessage]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await recent_messages(session, PiiCipher(settings.pii_key.get_secret_value()), limit=limit)
    finally:
        await engine.dispose()


def _sms_log(arguments: argparse.Namespace) -> None:
    for message in asyncio.run(read_sms_log(ComplaintsSettings(), arguments.limit)):
        print(f"{message.created_at:%Y-%m-%d %H:%M:%S} {message.status:<7} {message.phone} {message.text}")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command it names."""
    parser = argparse.ArgumentParser(prog="python -m complaints.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    stats_rebuild = commands.add_parser("stats-rebuild", help="recompute the statistics cubes from the case rows")
    stats_rebuild.set_defaults(run=_stats_rebuild)
    sms_log = commands.add_parser("sms-log", help="print the latest text messages as their recipients read them")
    sms_log.add_argument("--limit", type=int, default=20)
    sms_log.set_defaults(run=_sms_log)
    arguments = parser.parse_args(argv)
    arguments.run(arguments)


if __name__ == "__main__":
    main()
