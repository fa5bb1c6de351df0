"""Command-line entry points of the complaints service: `python -m complaints.cli <command>`.

The service's settings (ODR_* environment) name the database.

stats-rebuild: recompute the statistics cubes from the case rows in one transaction. Run it after a bulk load that
bypassed the triggers (COPY with `session_replication_role = replica`) or to recover from any doubt about the cubes.
Filings and transitions wait while it runs.

sms-log: the latest text messages, decrypted, as their recipients read them: what the development sender (the
default, `ODR_SMS_SENDER=dev`) "sent". It needs the service's PII key, as the service does.

erase-expired: erase now the personal data of every closed case past its retention period
(`ODR_PERSONAL_DATA_RETENTION_DAYS`), as the service's erasure job does every hour; prints one JSON line with the
number of cases erased. `odr retention prune` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import timedelta

from complaints.database import outbox
from complaints.evidence.storage import evidence_store
from complaints.notifications.service import LoggedMessage, NotifyingOutbox, recent_messages
from complaints.personal_data.service import erase_expired
from complaints.publisher import Publisher
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


async def erase_expired_personal_data(settings: ComplaintsSettings) -> int:
    """One pass of the erasure job; returns the number of cases erased."""
    engine = create_engine(settings)
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    try:
        return await erase_expired(
            create_sessionmaker(engine), cipher=cipher, store=evidence_store(settings),
            publisher=Publisher(outbox=NotifyingOutbox(outbox, settings.service_name, cipher),
                                source=settings.service_name, cipher=cipher),
            retention=timedelta(days=settings.personal_data_retention_days))
    finally:
        await engine.dispose()


def _erase_expired(_arguments: argparse.Namespace) -> None:
    settings = ComplaintsSettings()
    erased = asyncio.run(erase_expired_personal_data(settings))
    print(json.dumps({"service": settings.service_name, "personal_data_erased": erased,
                      "retention_days": settings.personal_data_retention_days}))


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
    erase = commands.add_parser("erase-expired",
                                help="erase the personal data of closed cases past their retention period, now")
    erase.set_defaults(run=_erase_expired)
    arguments = parser.parse_args(argv)
    arguments.run(arguments)


if __name__ == "__main__":
    main()
