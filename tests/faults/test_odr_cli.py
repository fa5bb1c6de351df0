"""Issue 16, item 5: every `odr` command against the fault tests' running platform (real databases, real broker,
real service processes). Item 8's poison event: dead-lettered, the partition moves on, `odr dlq replay` sends it back.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import sys
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from faults.conftest import CaseIds, FileComplaint
from faults.faultkit import wait_until
from odr_runner.ops import run_command
from odr_runner.stack import OUTBOX, SERVICES, Stack
from servicekit.db import asyncpg_dsn, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.events.topics import all_topics, dlq_topic


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


async def odr(stack: Stack, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    capsys.readouterr()
    code = await run_command(stack, list(argv))
    return code, lines(capsys)


# The revision just before each service's outbox parking migration.
BEFORE_PARKING = {"mediation": "0006"}


async def test_migrate_brings_a_database_behind_its_head_up_to_it(fault_stack: Stack,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Mediation is taken back to before the outbox's parking (it loses `parked_at`); `odr migrate` brings it to its
    head."""

    async def outbox_columns() -> set[str]:
        connection = await asyncpg.connect(asyncpg_dsn(fault_stack.database_url,
                                                       fault_stack.config.database_name("mediation")))
        try:
            return {row["column_name"] for row in await connection.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'outbox'")}
        finally:
            await connection.close()

    downgraded = await asyncio.create_subprocess_exec(
        fault_stack.config.python, "-m", "alembic", "-c", "alembic.ini", "downgrade", BEFORE_PARKING["mediation"],
        cwd=fault_stack.config.repo_root / "services" / "mediation", env=fault_stack.service_env("mediation"))
    assert await downgraded.wait() == 0
    assert "parked_at" not in await outbox_columns()

    connection = await asyncpg.connect(asyncpg_dsn(fault_stack.database_url,
                                                   fault_stack.config.database_name("merchants")))
    try:
        merchants_before = await connection.fetchval("SELECT count(*) FROM merchant")
    finally:
        await connection.close()

    code, output = await odr(fault_stack, capsys, "migrate")
    assert code == 0
    assert output == [{"migrated": [fault_stack.config.database_name(service) for service in SERVICES]}]
    assert "parked_at" in await outbox_columns()
    connection = await asyncpg.connect(asyncpg_dsn(fault_stack.database_url,
                                                   fault_stack.config.database_name("merchants")))
    try:
        assert await connection.fetchval("SELECT count(*) FROM merchant") == merchants_before > 0, \
            "migrate must never drop data"
    finally:
        await connection.close()


async def test_topics_create_makes_every_topic(fault_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = await odr(fault_stack, capsys, "topics", "create")
    assert code == 0
    assert output == [{"topics": all_topics()}]
    admin = AIOKafkaAdminClient(bootstrap_servers=fault_stack.kafka_bootstrap)
    await admin.start()
    try:
        assert set(all_topics()) <= set(await admin.list_topics())
    finally:
        await admin.close()


async def test_a_poison_event_is_dead_lettered_the_partition_moves_on_and_dlq_replay_sends_it_back(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str], file_complaint: FileComplaint,
    merchant_case_complaint_ids: CaseIds,
) -> None:
    group = "mediation.on-complaints"
    _, before = await odr(fault_stack, capsys, "dlq", "list", "--group", group)
    poison_key = str(uuid.uuid4()).encode()
    producer = AIOKafkaProducer(bootstrap_servers=fault_stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        # Not a CloudEvent at all: no retry can make it readable, so it is dead-lettered at once.
        await producer.send_and_wait("complaints.complaint", key=poison_key, value=b"{poison",
                                     headers=[("ce_id", b"not-a-uuid")])
    finally:
        await producer.stop()

    async def dead_lettered() -> list[dict[str, Any]] | None:
        _, listed = await odr(fault_stack, capsys, "dlq", "list", "--group", group)
        return listed if len(listed) == len(before) + 1 else None

    listed = await wait_until(dead_lettered, within=20, what="the poison event reaching the DLQ")
    poison = listed[-1]
    assert (poison["group"], poison["original_topic"], poison["attempts"]) == (group, "complaints.complaint", "1")
    assert poison["error"]

    later = await file_complaint("毒消息之后的投诉")
    await wait_until(lambda: _listed(merchant_case_complaint_ids, later), within=20,
                     what="a later complaint reaching the enterprise past the poison event")

    code, shown = await odr(fault_stack, capsys, "dlq", "show", "--group", group, "--offset", str(poison["offset"]))
    assert code == 0
    assert (shown[0]["key"], shown[0]["payload"]) == (poison_key.decode(), "{poison")
    assert shown[0]["headers"]["dlq-group"] == group

    code, replayed = await odr(fault_stack, capsys, "dlq", "replay", "--group", group,
                               "--offset", str(poison["offset"]))
    assert code == 0
    assert replayed == [{"replayed": poison["offset"], "group": group, "to": "complaints.complaint"}]
    # Still unreadable: the consumer read it from its original topic again and dead-lettered it again.
    again = await wait_until(lambda: _dlq_grew(fault_stack, capsys, group, len(before) + 2), within=20,
                             what="the replayed event being consumed again")
    assert again[-1]["original_topic"] == "complaints.complaint"
    assert again[-1]["original_offset"] != poison["original_offset"]


async def test_dlq_list_shows_every_message_of_a_batch_that_ends_the_topic(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str],
) -> None:
    # Tansu answers a partition's end as its last batch's first offset + 1; two dead letters produced in one batch
    # are the last batch of the topic, and both must be listed.
    group = "complaints.on-merchants"
    _, before = await odr(fault_stack, capsys, "dlq", "list", "--group", group)
    producer = AIOKafkaProducer(bootstrap_servers=fault_stack.kafka_bootstrap, acks="all", linger_ms=200)
    await producer.start()
    try:
        sent = [await producer.send(dlq_topic(group), key=f"batched-{number}".encode(), value=b"{}")
                for number in range(2)]
        await producer.flush()
        offsets = [(await delivery).offset for delivery in sent]
    finally:
        await producer.stop()

    _, listed = await odr(fault_stack, capsys, "dlq", "list", "--group", group)
    assert [entry["offset"] for entry in listed[len(before):]] == offsets


async def _listed(listing: CaseIds, complaint_id: str) -> bool:
    return complaint_id in await listing()


async def _dlq_grew(stack: Stack, capsys: pytest.CaptureFixture[str], group: str,
                    size: int) -> list[dict[str, Any]] | None:
    _, listed = await odr(stack, capsys, "dlq", "list", "--group", group)
    return listed if len(listed) >= size else None


async def test_a_parked_row_is_listed_and_outbox_replay_publishes_it(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = asyncpg_dsn(fault_stack.database_url, fault_stack.config.database_name("complaints"))
    probe = EventEnvelope(source="/tests", type="complaints.complaint.operator_probe.v1", subject=str(uuid.uuid4()),
                          data={"probe": True})
    rows = Outbox(OUTBOX, "complaints").rows(probe)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO outbox (id, topic, aggregate_id, event_type, headers, payload, parked_at, last_error) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, now(), 'MessageSizeTooLargeError()')",
            rows[0]["id"], rows[0]["topic"], rows[0]["aggregate_id"], rows[0]["event_type"],
            json.dumps(rows[0]["headers"]), json.dumps(rows[0]["payload"]))

        code, parked = await odr(fault_stack, capsys, "outbox", "parked", "--service", "complaints")
        assert code == 0
        assert [(row["service"], row["id"], row["last_error"]) for row in parked] == [
            ("complaints", str(probe.id), "MessageSizeTooLargeError()")]

        code, replayed = await odr(fault_stack, capsys, "outbox", "replay", "--since", utcnow().isoformat(),
                                   "--parked", "--service", "complaints")
        assert code == 0
        assert replayed == [{"service": "complaints", "requeued": 0, "unparked": 1}]

        async def published() -> bool:
            return bool(await connection.fetchval(
                "SELECT published_at IS NOT NULL FROM outbox WHERE id = $1", probe.id))

        await wait_until(published, within=20, what="the relay publishing the unparked row")
        _, after = await odr(fault_stack, capsys, "outbox", "parked", "--service", "complaints")
        assert after == []
    finally:
        await connection.close()


async def test_outbox_replay_since_requeues_what_was_published_after_it(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = asyncpg_dsn(fault_stack.database_url, fault_stack.config.database_name("merchants"))
    connection = await asyncpg.connect(dsn)
    try:
        latest = await connection.fetchval("SELECT max(published_at) FROM outbox")
        expected = await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at >= $1", latest)
        code, replayed = await odr(fault_stack, capsys, "outbox", "replay", "--since", latest.isoformat(),
                                   "--service", "merchants")
        assert code == 0
        assert replayed == [{"service": "merchants", "requeued": expected, "unparked": 0}]

        async def published_again() -> bool:
            return not await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

        await wait_until(published_again, within=20, what="the relay publishing the requeued rows")
    finally:
        await connection.close()


async def test_audit_verify_runs_the_mediation_check(fault_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = await odr(fault_stack, capsys, "audit", "verify", "--region", "632801")
    assert code == 0
    assert output[0]["region"] == "632801"
    assert output[0]["ok"] is True


async def test_keys_rotate_issues_new_credentials_and_revokes_the_old(
    fault_stack: Stack, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str],
) -> None:
    merchant = fault_stack.demo_document()["merchants"][1]
    code, output = await odr(fault_stack, capsys, "keys", "rotate", "--merchant", merchant["merchant_id"])
    assert code == 0
    rotated = output[0]
    assert rotated["client_id"] != merchant["client_id"]

    def grant(client_id: str, client_secret: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}

    assert (await client.post("/auth/token", data=grant(rotated["client_id"], rotated["client_secret"]))
            ).status_code == 200
    assert (await client.post("/auth/token", data=grant(merchant["client_id"], merchant["client_secret"]))
            ).status_code == 401


async def test_staff_create_makes_an_account_that_can_sign_in(
    fault_stack: Stack, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Random, but always of the four classes the password rules count (a bare token_urlsafe may have only two).
    username, password = f"ops-{secrets.token_hex(3)}", f"Ops-{secrets.token_urlsafe(16)}-7k"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{password}\n".encode())))
    capsys.readouterr()
    code = await run_command(fault_stack, ["staff", "create", "--username", username, "--role", "regulator",
                                           "--region", "632801", "--name", "运维测试"])
    assert code == 0, capsys.readouterr()
    token = await client.post("/auth/token", data={"grant_type": "password", "username": username,
                                                   "password": password})
    assert token.status_code == 200, token.text


async def test_retention_prune_deletes_expired_event_rows_only(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = asyncpg_dsn(fault_stack.database_url, fault_stack.config.database_name("mediation"))
    expired = utcnow() - timedelta(days=30)
    old_id, old_inbox = uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO outbox (id, topic, aggregate_id, event_type, headers, payload, published_at) "
            "VALUES ($1, 'mediation.case', 'x', 'mediation.case.old.v1', '{}', '{}', $2)", old_id, expired)
        await connection.execute("INSERT INTO inbox (consumer_group, event_id, event_type, processed_at) "
                                 "VALUES ('ops-test', $1, 'x.v1', $2)", old_inbox, expired)
        kept = await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at > now() - interval '1 day'")

        code, output = await odr(fault_stack, capsys, "retention", "prune", "--service", "mediation")
        assert code == 0
        assert output[0]["service"] == "mediation"
        assert output[0]["outbox"] >= 1
        assert output[0]["inbox"] >= 1
        assert await connection.fetchval("SELECT count(*) FROM outbox WHERE id = $1", old_id) == 0
        assert await connection.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", old_inbox) == 0
        assert await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at > now() - interval '1 day'") >= kept
    finally:
        await connection.close()


async def test_retention_prune_erases_the_personal_data_of_closed_cases_past_their_retention(
        fault_stack: Stack, capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient,
        consumer_headers: dict[str, str], file_complaint: FileComplaint) -> None:
    facts = f"retention prune {uuid.uuid4().hex}"
    complaint_id = await file_complaint(facts)
    withdrawn = await client.post(f"/v1/consumer/complaints/{complaint_id}/withdraw", headers=consumer_headers)
    assert withdrawn.status_code == 200, withdrawn.text
    connection = await asyncpg.connect(asyncpg_dsn(fault_stack.database_url,
                                                   fault_stack.config.database_name("complaints")))
    try:
        await connection.execute("UPDATE complaint SET closed_at = closed_at - interval '4000 days' WHERE id = $1",
                                 uuid.UUID(complaint_id))

        code, output = await odr(fault_stack, capsys, "retention", "prune", "--service", "complaints")

        assert code == 0
        assert [line["service"] for line in output] == ["complaints", "complaints"]
        assert output[1]["personal_data_erased"] >= 1
        row = await connection.fetchrow("SELECT complainant_name_enc, personal_data_erased_at FROM complaint "
                                        "WHERE id = $1", uuid.UUID(complaint_id))
        assert row["complainant_name_enc"] is None
        assert row["personal_data_erased_at"] is not None
    finally:
        await connection.close()


async def test_seed_prints_the_demo_credentials(fault_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """Last in the file: seeding rotates the demo enterprises' credentials, and their earlier tokens with them."""
    code, output = await odr(fault_stack, capsys, "seed")
    assert code == 0
    assert output[0]["regulator"]["username"] == fault_stack.demo_document()["regulator"]["username"]
    assert len(output[0]["merchants"]) >= 2
