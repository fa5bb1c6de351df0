"""Issue 16, items 1 and 8: SIGKILLed services and a SIGKILLed PostgreSQL come back by themselves (the runner's
supervisor), the complaints filed before survive the crash (WAL recovery), and filings made while they were down
reach the enterprise exactly once."""

from __future__ import annotations

import os
import signal

from faults.conftest import CaseIds, FileComplaint, SupervisedStack
from faults.faultkit import all_listed, counts, json_line, wait_until
from odr_runner.stack import Stack


async def test_killed_services_and_postgres_are_restarted_and_nothing_filed_is_lost_or_doubled(
    supervised: SupervisedStack, fault_stack: Stack, file_complaint: FileComplaint,
    merchant_case_complaint_ids: CaseIds,
) -> None:
    before = [await file_complaint(f"崩溃前的投诉 {number}") for number in range(3)]
    await wait_until(lambda: all_listed(merchant_case_complaint_ids, before), within=20,
                     what="the enterprise listing the complaints filed before the crash")

    assert fault_stack.postgres is not None
    for name in ("mediation", "merchants"):
        os.kill(fault_stack.processes[name].process.pid, signal.SIGKILL)
    os.kill(fault_stack.postgres.process.pid, signal.SIGKILL)

    statuses: list[int] = []
    during = [await file_complaint(f"故障期间的投诉 {number}", statuses=statuses) for number in range(10)]

    filed = before + during
    listed = await wait_until(lambda: all_listed(merchant_case_complaint_ids, filed), within=45,
                              what="every filed complaint reaching the enterprise")
    report = counts(filed, listed)
    print(json_line({**report, "answered_503": statuses.count(503)}))
    assert report["lost"] == 0, report
    assert report["duplicates"] == 0, report
    for name in ("mediation", "merchants", "postgres"):
        assert supervised.supervisor.restarts(name) >= 1, (name, supervised.messages)
        assert any(message.startswith(f"{name} exited unexpectedly") for message in supervised.messages)
    assert supervised.supervisor.given_up() == []

