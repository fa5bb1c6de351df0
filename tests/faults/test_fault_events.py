"""Issue 16, item 8: the broker frozen and resumed, a client that timed out retrying its filing, and two regulators'
conflicting decisions, each against the real processes; counts are printed (filed, delivered, duplicates, lost)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid

import httpx

from faults.conftest import CaseIds, ComplaintBody, FileComplaint
from faults.faultkit import counts, json_line, wait_until
from odr_runner.stack import Stack


async def test_a_frozen_broker_delays_events_but_loses_and_doubles_none(
    fault_stack: Stack, file_complaint: FileComplaint, merchant_case_complaint_ids: CaseIds,
) -> None:
    assert fault_stack.broker is not None
    before = set(await merchant_case_complaint_ids())
    broker = fault_stack.broker.process.pid
    os.kill(broker, signal.SIGSTOP)
    try:
        # Filing never waits for the broker: the events wait in the outbox.
        filed = [await file_complaint(f"消息中间件冻结时的投诉 {number}", within=20) for number in range(5)]
        await asyncio.sleep(3)
    finally:
        os.kill(broker, signal.SIGCONT)

    async def all_arrived() -> list[str] | None:
        listed: list[str] = await merchant_case_complaint_ids()
        return listed if set(filed) <= set(listed) else None

    listed = await wait_until(all_arrived, within=50, what="the events held back by the frozen broker arriving")
    report = counts(filed, [case for case in listed if case not in before])
    print(json_line(report))
    assert report["lost"] == 0, report
    assert report["duplicates"] == 0, report


async def test_a_filing_retried_after_the_client_timed_out_is_filed_once(
    client: httpx.AsyncClient, consumer_headers: dict[str, str], complaint_body: ComplaintBody,
    merchant_case_complaint_ids: CaseIds,
) -> None:
    headers = {**consumer_headers, "Idempotency-Key": str(uuid.uuid4())}
    body = complaint_body("客户端超时后重试的投诉")
    before = await merchant_case_complaint_ids()
    # The client gives up before the platform answers, while the filing is being made (or already was).
    with contextlib.suppress(httpx.TimeoutException):
        await client.post("/v1/consumer/complaints", json=body, headers=headers, timeout=0.05)
    await asyncio.sleep(1)
    first = await client.post("/v1/consumer/complaints", json=body, headers=headers)
    again = await client.post("/v1/consumer/complaints", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]

    async def arrived() -> list[str] | None:
        listed: list[str] = await merchant_case_complaint_ids()
        return listed if first.json()["id"] in listed else None

    listed = await wait_until(arrived, within=20, what="the filing reaching the enterprise")
    await asyncio.sleep(1)
    new = [case for case in await merchant_case_complaint_ids() if case not in before]
    print(json_line({"filed": 1, "new_cases": len(new)}))
    assert new == [first.json()["id"]], f"a retried filing made {len(new)} cases"
    assert len(listed) == len(set(listed))


async def test_two_regulators_conflicting_decisions_exactly_one_wins(
    fault_stack: Stack, client: httpx.AsyncClient, consumer_headers: dict[str, str], complaint_body: ComplaintBody,
) -> None:
    body = {**complaint_body("两位监管人员同时处理的投诉"), "green_channel": False}
    filed = await client.post("/v1/consumer/complaints", json=body,
                              headers={**consumer_headers, "Idempotency-Key": str(uuid.uuid4())})
    assert filed.status_code == 201, filed.text
    complaint = filed.json()["id"]
    regulator = fault_stack.demo_document()["regulator"]
    signed_in = await client.post("/auth/token", data={"grant_type": "password", "username": regulator["username"],
                                                       "password": regulator["password"]})
    assert signed_in.status_code == 200, signed_in.text
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    path = f"/v1/regulator/complaints/{complaint}"

    async def pending() -> bool:
        answer = await client.get(path, headers=headers)
        return answer.status_code == 200 and answer.json()["status"] == "pending_acceptance"

    await wait_until(pending, within=20, what="the complaint waiting for the regulator")
    accepted, refused = await asyncio.gather(
        client.post(f"{path}/accept", headers=headers),
        client.post(f"{path}/refuse", json={"ground": 3, "note": "不属于消费争议"}, headers=headers))
    statuses = sorted([accepted.status_code, refused.status_code])
    print(json_line({"accept": accepted.status_code, "refuse": refused.status_code}))
    assert statuses == [200, 409], (accepted.text, refused.text)
    final = (await client.get(path, headers=headers)).json()["status"]
    assert final == ("accepted" if accepted.status_code == 200 else "closed_refused")
