"""`odr`: the platform's operations commands, against the databases and broker a `make run` (or ODR_DATABASE_URL,
ODR_KAFKA_BOOTSTRAP) names.

    odr migrate                              create missing databases, every service's `alembic upgrade head`
    odr seed                                 demo accounts and enterprises (prints their credentials as JSON)
    odr topics create                        every topic and dead-letter topic
    odr dlq list [--group G]                 what each dead-letter topic holds, one JSON line per message
    odr dlq show --group G --offset N        one dead-lettered message with its headers and payload
    odr dlq replay --group G [--offset N]    send dead-lettered messages back to their original topic
    odr outbox parked [--service S]          outbox rows the broker refused for good
    odr outbox replay --since T [--parked]   publish again what was published since T (and the parked rows)
    odr audit verify --region R              verify a region's outcome chain (mediation)
    odr keys rotate --merchant ID            new API credentials for an enterprise (merchants)
    odr staff create --username ... < pw     a regulator staff account (merchants)
    odr retention prune [--service S]        delete published outbox rows and inbox rows past the retention period,
                                             and erase the personal data of closed cases past theirs (complaints)

Commands that belong to one service run that service's own command line (`python -m mediation.cli`, `merchants.cli`)
with the service's settings; the rest use servicekit directly. Local secrets come from `.odr/secrets.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import NullPool, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from odr_runner.cli import REPO_ROOT, config_from_env
from odr_runner.stack import DEFAULT_EVENT_RETENTION_HOURS, OUTBOX, SERVICES, Stack
from servicekit.db import create_sessionmaker, new_metadata, utcnow
from servicekit.events.inbox import (
    DLQ_ATTEMPTS,
    DLQ_ERROR,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
)
from servicekit.events.relay import requeue_published
from servicekit.events.tables import inbox_table
from servicekit.events.topics import CONSUMER_GROUPS, all_topics, dlq_topic
from servicekit.retention import RetentionJob

INBOX = inbox_table(new_metadata())
DLQ_HEADER_PREFIX = "dlq-"
Command = Callable[[Stack, argparse.Namespace], Awaitable[int]]


def emit(document: dict[str, Any]) -> None:
    print(json.dumps(document, ensure_ascii=False, default=str), flush=True)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="odr", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="create missing databases and apply every service's migrations"
                        ).set_defaults(run=migrate)
    commands.add_parser("seed", help="demo data; prints its credentials as JSON").set_defaults(run=seed)
    topics = commands.add_parser("topics", help="topics").add_subparsers(dest="action", required=True)
    topics.add_parser("create", help="create every topic and dead-letter topic").set_defaults(run=create_topics)

    dlq = commands.add_parser("dlq", help="dead-letter topics").add_subparsers(dest="action", required=True)
    dlq_list = dlq.add_parser("list", help="one JSON line per dead-lettered message")
    dlq_list.add_argument("--group", action="append", help="consumer group (repeatable; default: all)")
    dlq_list.set_defaults(run=list_dead_letters)
    dlq_show = dlq.add_parser("show", help="one message with its headers and payload")
    dlq_show.add_argument("--group", required=True)
    dlq_show.add_argument("--offset", required=True, type=int)
    dlq_show.set_defaults(run=show_dead_letter)
    dlq_replay = dlq.add_parser("replay", help="send messages back to their original topic (inboxes drop repeats)")
    dlq_replay.add_argument("--group", required=True)
    dlq_replay.add_argument("--offset", type=int, action="append", help="repeatable; default: every message")
    dlq_replay.set_defaults(run=replay_dead_letters)

    outbox = commands.add_parser("outbox", help="outboxes").add_subparsers(dest="action", required=True)
    parked = outbox.add_parser("parked", help="rows the broker refused for good, one JSON line each")
    parked.add_argument("--service", choices=SERVICES, action="append")
    parked.set_defaults(run=list_parked)
    replay = outbox.add_parser("replay", help="publish again rows published since a time (consumers drop repeats)")
    replay.add_argument("--since", required=True, type=datetime.fromisoformat,
                        help="ISO 8601 time with its offset, e.g. 2026-12-05T08:00:00+08:00")
    replay.add_argument("--parked", action="store_true", help="also give parked rows another try")
    replay.add_argument("--service", choices=SERVICES, action="append")
    replay.set_defaults(run=replay_outbox)

    audit = commands.add_parser("audit", help="outcome audit").add_subparsers(dest="action", required=True)
    verify = audit.add_parser("verify", help="verify a region's outcome chain; exit 1 when broken")
    verify.add_argument("--region", required=True)
    verify.set_defaults(run=verify_audit_chain)

    keys = commands.add_parser("keys", help="credentials").add_subparsers(dest="action", required=True)
    rotate = keys.add_parser("rotate", help="new API credentials for an enterprise")
    rotate.add_argument("--merchant", required=True)
    rotate.add_argument("--overlap-hours", default="0")
    rotate.set_defaults(run=rotate_keys)

    staff = commands.add_parser("staff", help="staff accounts").add_subparsers(dest="action", required=True)
    create = staff.add_parser("create", help="a regulator, mediator or hotline account; password on stdin")
    for option in ("--username", "--role", "--region", "--name"):
        create.add_argument(option, required=True)
    create.set_defaults(run=create_staff)

    retention = commands.add_parser("retention", help="event tables").add_subparsers(dest="action", required=True)
    prune = retention.add_parser("prune", help="delete what is older than the retention period, and erase the "
                                 "personal data of closed cases past theirs, now")
    prune.add_argument("--service", choices=SERVICES, action="append")
    prune.set_defaults(run=prune_event_tables)
    return top


async def run_command(stack: Stack, argv: list[str]) -> int:
    """Parse `argv` and run it against `stack` (its databases and broker must be up)."""
    arguments = parser().parse_args(argv)
    command: Command = arguments.run
    return await command(stack, arguments)


def main(argv: list[str] | None = None) -> int:
    config = config_from_env(REPO_ROOT, os.environ)
    # Operations address a running platform: the embedded servers of `make run` unless the environment names others.
    embedded_database = f"postgresql+asyncpg://postgres@127.0.0.1:{config.embedded_pg_port}/postgres"
    config.database_url = config.database_url or embedded_database
    config.kafka_bootstrap = config.kafka_bootstrap or f"127.0.0.1:{config.embedded_kafka_port}"
    stack = Stack(config, report=lambda message: print(message, file=sys.stderr))
    return asyncio.run(run_command(stack, sys.argv[1:] if argv is None else argv))


async def migrate(stack: Stack, _: argparse.Namespace) -> int:
    await stack.create_databases(keep_existing=True)
    await stack.migrate()
    emit({"migrated": [stack.config.database_name(service) for service in SERVICES]})
    return 0


async def seed(stack: Stack, _: argparse.Namespace) -> int:
    emit(await stack.seed())
    return 0


async def create_topics(stack: Stack, _: argparse.Namespace) -> int:
    await stack.create_topics()
    emit({"topics": all_topics()})
    return 0


@asynccontextmanager
async def _dead_letter_reader(stack: Stack) -> AsyncIterator[AIOKafkaConsumer]:
    reader = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


async def _dead_letters(reader: AIOKafkaConsumer, group: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message of the group's dead-letter topic (one partition), oldest first: read until the end it had when
    asked, keeping all of the batches read. (Tansu answers the end as its last batch's first offset + 1, so that
    batch's later messages lie past it; whatever arrived after the question is listed too.)"""
    partition = TopicPartition(dlq_topic(group), 0)
    reader.assign([partition])
    end = (await reader.end_offsets([partition]))[partition]
    await reader.seek_to_beginning(partition)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while (await reader.position(partition)) < end:
        for batch in (await reader.getmany(partition, timeout_ms=1000)).values():
            records += batch
    return records


def _headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers or ()}


def _summary(group: str, record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    headers = _headers(record)
    return {"group": group, "offset": record.offset, "original_topic": headers.get(DLQ_ORIGINAL_TOPIC),
            "original_partition": headers.get(DLQ_ORIGINAL_PARTITION),
            "original_offset": headers.get(DLQ_ORIGINAL_OFFSET), "attempts": headers.get(DLQ_ATTEMPTS),
            "error": headers.get(DLQ_ERROR), "event_type": headers.get("ce_type"), "event_id": headers.get("ce_id"),
            "subject": headers.get("ce_subject")}


async def list_dead_letters(stack: Stack, arguments: argparse.Namespace) -> int:
    async with _dead_letter_reader(stack) as reader:
        for group in arguments.group or CONSUMER_GROUPS:
            for record in await _dead_letters(reader, group):
                emit(_summary(group, record))
    return 0


async def show_dead_letter(stack: Stack, arguments: argparse.Namespace) -> int:
    async with _dead_letter_reader(stack) as reader:
        found = [record for record in await _dead_letters(reader, arguments.group) if record.offset == arguments.offset]
    if not found:
        print(f"no message at offset {arguments.offset} of {dlq_topic(arguments.group)}", file=sys.stderr)
        return 1
    record = found[0]
    value = record.value or b""
    try:
        payload: Any = json.loads(value)
    except ValueError:
        payload = value.decode(errors="replace")
    emit({**_summary(arguments.group, record), "key": (record.key or b"").decode(errors="replace"),
          "headers": _headers(record), "payload": payload})
    return 0


async def replay_dead_letters(stack: Stack, arguments: argparse.Namespace) -> int:
    """Each chosen message goes back to its original topic, key and headers as first produced (the dead-letter
    headers dropped), so its partition's consumers apply it again; a message applied meanwhile is a duplicate."""
    async with _dead_letter_reader(stack) as reader:
        records = await _dead_letters(reader, arguments.group)
    chosen = [record for record in records if arguments.offset is None or record.offset in arguments.offset]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for record in chosen:
            topic = _headers(record).get(DLQ_ORIGINAL_TOPIC)
            if topic is None:
                print(f"offset {record.offset} names no original topic; skipped", file=sys.stderr)
                continue
            headers = [(name, value) for name, value in record.headers or () if not name.startswith(DLQ_HEADER_PREFIX)]
            await producer.send_and_wait(topic, key=record.key, value=record.value, headers=headers)
            emit({"replayed": record.offset, "group": arguments.group, "to": topic})
    finally:
        await producer.stop()
    return 0


def _engine(stack: Stack, service: str) -> AsyncEngine:
    url = make_url(stack.database_url).set(drivername="postgresql+asyncpg",
                                           database=stack.config.database_name(service))
    return create_async_engine(url, poolclass=NullPool)


async def list_parked(stack: Stack, arguments: argparse.Namespace) -> int:
    table = OUTBOX
    for service in arguments.service or SERVICES:
        engine = _engine(stack, service)
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(
                    select(table.c.seq, table.c.id, table.c.topic, table.c.event_type, table.c.aggregate_id,
                           table.c.parked_at, table.c.attempts, table.c.last_error)
                    .where(table.c.parked_at.is_not(None)).order_by(table.c.seq))).all()
        finally:
            await engine.dispose()
        for row in rows:
            emit({"service": service, **row._asdict()})
    return 0


async def replay_outbox(stack: Stack, arguments: argparse.Namespace) -> int:
    since: datetime = arguments.since
    if since.tzinfo is None:
        print("--since needs a UTC offset (e.g. +08:00 or Z)", file=sys.stderr)
        return 2
    for service in arguments.service or SERVICES:
        engine = _engine(stack, service)
        try:
            requeued = await requeue_published(engine, OUTBOX, since=since)
            unparked = 0
            if arguments.parked:
                async with engine.begin() as connection:
                    result = await connection.execute(
                        update(OUTBOX).where(OUTBOX.c.parked_at.is_not(None)).values(parked_at=None))
                unparked = int(result.rowcount or 0)
        finally:
            await engine.dispose()
        emit({"service": service, "requeued": requeued, "unparked": unparked})
    return 0


async def prune_event_tables(stack: Stack, arguments: argparse.Namespace) -> int:
    for service in arguments.service or SERVICES:
        hours = float(stack.service_env(service).get("ODR_EVENT_RETENTION_HOURS", DEFAULT_EVENT_RETENTION_HOURS))
        engine = _engine(stack, service)
        try:
            job = RetentionJob(create_sessionmaker(engine), outbox=OUTBOX, inbox=INBOX,
                               retention=timedelta(hours=hours), interval=0)
            deleted = await job.prune_once(utcnow())
        finally:
            await engine.dispose()
        emit({"service": service, "retention_hours": hours, **deleted})
    if "complaints" in (arguments.service or SERVICES):
        # The erasure carries itself to mediation and merchants by its event, so only complaints runs it.
        return await _delegate(stack, "complaints", ["erase-expired"])
    return 0


async def _delegate(stack: Stack, service: str, arguments: list[str], stdin: bytes | None = None) -> int:
    """A service's own command line, with that service's settings; its output passed through."""
    process = await asyncio.create_subprocess_exec(
        stack.config.python, "-m", f"{service}.cli", *arguments, cwd=stack.config.repo_root,
        env=stack.service_env(service), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await process.communicate(stdin or b"")
    sys.stdout.write(stdout.decode(errors="replace"))
    sys.stderr.write(stderr.decode(errors="replace"))
    sys.stdout.flush()
    return int(process.returncode or 0)


async def verify_audit_chain(stack: Stack, arguments: argparse.Namespace) -> int:
    return await _delegate(stack, "mediation", ["verify", "--region", arguments.region])


async def rotate_keys(stack: Stack, arguments: argparse.Namespace) -> int:
    return await _delegate(stack, "merchants", ["rotate-credentials", "--merchant", arguments.merchant,
                                                "--overlap-hours", arguments.overlap_hours])


async def create_staff(stack: Stack, arguments: argparse.Namespace) -> int:
    password = sys.stdin.buffer.readline()
    return await _delegate(stack, "merchants", ["staff-account", "--username", arguments.username,
                                                "--role", arguments.role, "--region", arguments.region,
                                                "--name", arguments.name], stdin=password)


if __name__ == "__main__":
    sys.exit(main())
