"""Issue 16's acceptance, on the platform `make run` runs (real processes kept alive by the runner's supervisor):
300 complaints filed while mediation and merchants are SIGKILLed all reach the enterprise exactly once (its case list,
mediation's cases and its webhook); PostgreSQL SIGKILLed during intake gives only 503s until it is back, intake
recovers by itself within a minute, and nothing accepted is lost. Counts are printed (filed, delivered, duplicates,
lost)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from dataclasses import dataclass
from functools import partial

import asyncpg
import httpx

from faults.conftest import (
    CaseIds,
    ComplaintBody,
    FileComplaint,
    SignIn,
    SupervisedStack,
    assert_retryable_unavailable,
)
from faults.faultkit import WebhookReceiver, all_listed, counts, json_line, wait_until
from odr_runner.stack import Stack
from servicekit.contracts.complaints_v1 import ComplaintRouted
from servicekit.db import asyncpg_dsn

FILINGS = 300
CONSUMERS = 4
IN_FLIGHT = 8
# Each victim is SIGKILLed as the filing numbered here is answered 201: both die mid-filing.
KILL_AT = {"merchants": FILINGS // 4, "mediation": FILINGS // 2}
FILINGS_PER_SECOND = 5.0
REQUEST_TIMEOUT = 15.0
RECOVERY_LIMIT = 60.0


async def test_300_filings_while_mediation_and_merchants_are_killed_reach_the_enterprise_exactly_once(
    supervised: SupervisedStack, fault_stack: Stack, client: httpx.AsyncClient, merchant_headers: dict[str, str],
    consumer_sign_in: SignIn, file_complaint: FileComplaint, merchant_case_complaint_ids: CaseIds,
) -> None:
    receiver = await WebhookReceiver().start()
    try:
        configured = await client.put("/v1/merchant/webhook", headers=merchant_headers,
                                      json={"url": receiver.url, "events": [ComplaintRouted.event_type]})
        assert configured.status_code == 200, configured.text
        consumers = [await consumer_sign_in(f"1391632{number:04d}") for number in range(CONSUMERS)]
        restarts_before = {name: supervised.supervisor.restarts(name) for name in KILL_AT}
        filed: list[str] = []
        killed_after: dict[str, int] = {}

        async def filer(worker: int, numbers: list[int]) -> None:
            while numbers:
                number = numbers.pop()
                filed.append(await file_complaint(f"服务被强行终止期间的投诉 {number}",
                                                  consumer=consumers[(worker + number) % CONSUMERS]))
                for name, after in KILL_AT.items():
                    if len(filed) == after:
                        # The other workers' filings are in flight as it dies, and most filings are still to come.
                        os.kill(fault_stack.processes[name].process.pid, signal.SIGKILL)
                        killed_after[name] = after

        numbers = list(range(FILINGS))
        began = time.monotonic()
        await asyncio.gather(*(filer(worker, numbers) for worker in range(IN_FLIGHT)))
        filing_seconds = time.monotonic() - began
        for name in KILL_AT:
            await wait_until(partial(_restarted_since, supervised, name, restarts_before[name]),
                             within=60, what=f"the supervisor restarting {name}")

        async def listed_everywhere() -> tuple[list[str], list[str]] | None:
            listed: list[str] = await merchant_case_complaint_ids()
            cases = await _mediation_case_complaint_ids(fault_stack, filed)
            everywhere = set(filed) <= set(listed) and set(filed) <= set(cases) \
                and set(filed) <= set(receiver.complaint_ids(ComplaintRouted.event_type))
            return (listed, cases) if everywhere else None

        arrived = await wait_until(listed_everywhere, within=90,
                                   what="every filing reaching the case list, mediation and the webhook")
        # Whatever was still on its way (a redelivery, a second case) has the time to show.
        await asyncio.sleep(2)
        listed = await merchant_case_complaint_ids()
        cases = await _mediation_case_complaint_ids(fault_stack, filed)
        webhook = [complaint for complaint in receiver.complaint_ids(ComplaintRouted.event_type) if complaint in filed]
    finally:
        await receiver.stop()

    assert arrived is not None
    in_list, in_mediation, in_webhook = (counts(filed, [case for case in where if case in filed])
                                         for where in (listed, cases, webhook))
    print(json_line({**in_list, "filing_seconds": round(filing_seconds), **{f"killed_{name}_after": count
                                                                             for name, count in killed_after.items()},
                     **{f"mediation_{key}": value for key, value in in_mediation.items()},
                     **{f"webhook_{key}": value for key, value in in_webhook.items()},
                     "webhook_repeated_ids": receiver.repeated_deliveries()}))
    assert len(filed) == len(set(filed)) == FILINGS
    assert killed_after == KILL_AT
    for where, report in (("case list", in_list), ("mediation", in_mediation), ("webhook", in_webhook)):
        assert report["lost"] == 0, (where, report)
        assert report["duplicates"] == 0, (where, report)
    for name in KILL_AT:
        assert any(message.startswith(f"{name} exited unexpectedly") for message in supervised.messages)
    assert supervised.supervisor.given_up() == []


@dataclass(frozen=True)
class Answer:
    sent: float
    answered: float
    status: int
    complaint_id: str | None


async def test_postgres_killed_during_intake_answers_only_503_and_intake_recovers_within_a_minute(
    supervised: SupervisedStack, fault_stack: Stack, client: httpx.AsyncClient, consumer_headers: dict[str, str],
    complaint_body: ComplaintBody, merchant_case_complaint_ids: CaseIds,
) -> None:
    # The fault tests' stack runs its own embedded PostgreSQL (conftest), never the machine's server on :5432.
    assert fault_stack.postgres is not None
    restarts_before = supervised.supervisor.restarts("postgres")
    answers: list[Answer] = []
    hung: list[str] = []
    back_at: list[float] = []

    async def file(number: int) -> None:
        sent = time.monotonic()
        try:
            response = await client.post(
                "/v1/consumer/complaints", json=complaint_body(f"数据库崩溃期间的投诉 {number}"),
                headers={**consumer_headers, "Idempotency-Key": str(uuid.uuid4())}, timeout=REQUEST_TIMEOUT)
        except httpx.TimeoutException as error:
            hung.append(repr(error))
            return
        if response.status_code != 201:
            assert_retryable_unavailable(response)
        answers.append(Answer(sent, time.monotonic(), response.status_code,
                              str(response.json()["id"]) if response.status_code == 201 else None))

    def recovered() -> bool:
        """201s answered to filings sent after PostgreSQL came back, for three seconds in a row."""
        after_back = [answer for answer in answers if back_at and answer.sent > back_at[0]]
        return bool(after_back) and after_back[-1].status == 201 and \
            sum(answer.status == 201 for answer in after_back) >= 3 * FILINGS_PER_SECOND

    filings: list[asyncio.Task[None]] = []
    began = time.monotonic()
    killed_at: float | None = None
    while not recovered():
        now = time.monotonic()
        assert now - began < 3 + 30 + RECOVERY_LIMIT, "intake did not recover"
        if killed_at is None and now - began >= 3:
            os.kill(fault_stack.postgres.process.pid, signal.SIGKILL)
            killed_at = now
        if killed_at is not None and not back_at and supervised.supervisor.restarts("postgres") > restarts_before:
            back_at.append(now)
        filings.append(asyncio.create_task(file(len(filings))))
        await asyncio.sleep(1 / FILINGS_PER_SECOND)
    await asyncio.gather(*filings)

    assert killed_at is not None
    accepted = [answer.complaint_id for answer in answers if answer.complaint_id is not None]
    first_after_back = min((answer.answered for answer in answers
                            if answer.status == 201 and answer.sent > back_at[0]), default=None)
    listed = await wait_until(lambda: all_listed(merchant_case_complaint_ids, accepted), within=60,
                              what="every accepted filing reaching the enterprise")
    report = counts(accepted, [case for case in listed if case in accepted])
    print(json_line({**report, "sent": len(filings), "answered_201": len(accepted),
                     "answered_503": sum(answer.status == 503 for answer in answers), "hung": len(hung),
                     "postgres_back_after_s": round(back_at[0] - killed_at, 1),
                     "first_201_after_back_s": round((first_after_back or 0) - back_at[0], 1)}))
    assert hung == [], f"{len(hung)} filings hung beyond {REQUEST_TIMEOUT:.0f} s: {hung[:3]}"
    assert any(answer.status == 503 for answer in answers), "PostgreSQL's death went unnoticed: the fault did not bite"
    assert first_after_back is not None, "no filing sent after PostgreSQL was back was accepted"
    assert first_after_back - back_at[0] < RECOVERY_LIMIT
    assert report["lost"] == 0, report
    assert report["duplicates"] == 0, report
    assert supervised.supervisor.given_up() == []


def _restarted_since(supervised: SupervisedStack, name: str, restarts: int) -> bool:
    return supervised.supervisor.restarts(name) > restarts


async def _mediation_case_complaint_ids(stack: Stack, complaints: list[str]) -> list[str]:
    """The complaint of each of mediation's cases among `complaints`, one entry per case; empty while mediation's
    database cannot be reached."""
    try:
        connection = await asyncpg.connect(asyncpg_dsn(stack.database_url, stack.config.database_name("mediation")))
    except (OSError, asyncpg.PostgresError):
        return []
    try:
        rows = await connection.fetch("SELECT complaint_id::text FROM mediation_case "
                                      "WHERE complaint_id = ANY($1::uuid[])", complaints)
    finally:
        await connection.close()
    return [row[0] for row in rows]

