"""CPU of the filing use case alone: complaints' `file_complaint` called in a loop on one pooled connection, without
HTTP, the relay or the consumers; this process's CPU and that of the PostgreSQL backend serving the connection.

    .venv/bin/python -m bench.filing_cost [--filings 2000] [--idempotency-keys]

Half the filings go to an enterprise (green channel, so a text message is owed), half to the regulator (a business
not registered). Run it on the code before and after a change of the filing's statements to compare them; it reads
/proc, so PostgreSQL must run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import complaints.complaint.service as complaint_service
import complaints.consumers.merchants as merchant_events
from bench.common import DATABASE_PREFIX, SYSTEM_POSTGRES, say, use_uvloop
from complaints.complaint.schemas import ComplaintCreate
from complaints.database import outbox
from complaints.deadline.service import NegotiationPeriods
from complaints.notifications.service import NotifyingOutbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.contracts.merchants_v1 import EnrollmentApproved
from servicekit.db import create_engine, create_sessionmaker
from servicekit.pii import PiiCipher
from servicekit.testing.infra import migrated_database

PII_KEY = "bench-filing-cost"
WARM_UP = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.filing_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, default=2000)
    parser.add_argument("--idempotency-keys", action="store_true", help="send a new Idempotency-Key with each")
    return parser.parse_args(argv)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def bodies(merchant_id: uuid.UUID) -> list[ComplaintCreate]:
    common = {
        "kind": "complaint",
        "complainant": {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号"},
        "request": {"type": "refund", "amount_fen": 29900},
        "facts": "购买的枸杞与网页宣传不符，要求退款。",
        "purchase": {"date": "2026-11-20", "amount_fen": 29900, "order_no": "JD2026112000123"},
        "sector": "online_shopping", "category": "food.local_specialty", "channel": "app",
    }
    return [
        ComplaintCreate.model_validate({**common, "green_channel": True,
                                        "respondent": {"merchant_id": str(merchant_id)}}),
        ComplaintCreate.model_validate({**common, "green_channel": False, "respondent": {
            "name": "昆仑路小卖部", "address": "青海省格尔木市昆仑路8号", "uscc": "92632801MA7YYYYY1Y",
            "region_code": "632802"}}),
    ]


async def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)
    async with migrated_database(SYSTEM_POSTGRES, f"{DATABASE_PREFIX}_filing_cost", "complaints") as name:
        settings = ComplaintsSettings(database_url=SYSTEM_POSTGRES, database_name=name, pii_key=SecretStr(PII_KEY),
                                      environment="test", jwt_public_key="unused")
        engine = create_engine(settings, pool_size=1)
        sessionmaker = create_sessionmaker(engine)
        cipher = PiiCipher(PII_KEY)
        publisher = Publisher(outbox=NotifyingOutbox(outbox, settings.service_name, cipher),
                              source=settings.service_name, cipher=cipher)
        approved = EnrollmentApproved(merchant_id=uuid.uuid4(), name="格尔木枸杞专卖店", uscc="91632801MA7XXXXX0Q",
                                      region_code="632801", sector="online_shopping", approved_at=datetime.now(UTC))
        async with sessionmaker() as session, session.begin():
            await merchant_events.HANDLERS[approved.event_type](session, approved.envelope(source="merchants"))
            backend: int = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        filed = bodies(approved.merchant_id)

        async def file(number: int) -> None:
            filing = complaint_service.Filing(
                consumer_id=f"consumer-{number}", body=filed[number % len(filed)],
                idempotency_key=str(uuid.uuid4()) if arguments.idempotency_keys else None, cipher=cipher,
                publisher=publisher, negotiation_periods=NegotiationPeriods({"": 10}))
            async with sessionmaker() as session:
                await complaint_service.file_complaint(session, filing)

        try:
            for number in range(WARM_UP):
                await file(number)
            process, database, wall = time.process_time(), cpu_seconds(backend), time.perf_counter()
            for number in range(arguments.filings):
                await file(number)
            count = arguments.filings
            say(f"{count} filings ({'with' if arguments.idempotency_keys else 'without'} Idempotency-Key), ms per "
                f"filing: this process {1000 * (time.process_time() - process) / count:.2f}, its PostgreSQL backend "
                f"{1000 * (cpu_seconds(backend) - database) / count:.2f}, "
                f"wall {1000 * (time.perf_counter() - wall) / count:.2f}")
        finally:
            await engine.dispose()


if __name__ == "__main__":
    use_uvloop()
    asyncio.run(main())
