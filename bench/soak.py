"""Soak: file complaints at a steady rate for a long time while faults are injected on a schedule, and record what
happened over time (issue 16, item 9). Not part of `make test`.

The platform runs as `make run` runs it: embedded PostgreSQL (so it can be killed), the embedded broker, the three
services and the gateway, kept alive by the runner's supervisor. Every `--fault-every` seconds the next fault of the
cycle is injected: mediation SIGKILLed, merchants SIGKILLed, the broker frozen (SIGSTOP) for 5 s, PostgreSQL's
postmaster SIGKILLed, complaints SIGKILLed. Filings are open loop (a filing is sent on schedule whatever the earlier
ones are doing); one not answered 201 is retried with its Idempotency-Key after its Retry-After or an exponential
backoff with jitter, whichever is longer, as a well-behaved client would, for at most `FILING_PATIENCE` seconds (then
it counts as abandoned, so a platform that never recovers ends the run instead of hanging it). Access tokens last
15 minutes, less than a soak: every consumer signs in again every `--sign-in-every` seconds, and a filing always
sends its consumer's current token.

At the end the filed complaints are counted where the enterprise sees them (mediation's cases): filed, delivered,
lost; duplicates cannot exist there (one case per complaint is a unique key), so the count that matters is lost.
Per 10-second window: filings answered 201, 503s, other answers, p50 and p95 latency of the 201s, and the private
memory (RssAnon, MiB) of each process with its children (PostgreSQL: the postmaster and its backends) and of the
load generator itself, so a leak shows as a rising line over a long run.

    .venv/bin/python -m bench.soak                       # 30 minutes at 100 filings/s (the issue's soak)
    .venv/bin/python -m bench.soak --minutes 3 --rate 5  # what this 2-core machine can carry beside its tenants
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    BENCH_ENV,
    REPO_ROOT,
    asyncpg_dsn,
    consumer_tokens,
    percentile,
    record,
    say,
    sign_in_consumer,
)
from odr_runner.credentials import StackSecrets
from odr_runner.stack import GATEWAY, Ports, Stack, StackConfig, settled_stack
from odr_runner.supervisor import RestartPolicy, Supervisor
from servicekit import infra

SCENARIO = "soak"
WINDOW_SECONDS = 10
FREEZE_SECONDS = 5.0
DRAIN_TIMEOUT = 180.0
FILING_PATIENCE = 300.0
# The generator must not be where filings queue: at 100/s, 10 s of latency during a fault is 1,000 requests in flight
# (aiohttp's default of 100 connections held them client-side until its 30 s timeout, counted as no answer).
CONNECTIONS = 2000
# Retry-After is the least a client waits; backing off beyond it keeps the thousands of filings a fault held up from
# coming back all together every second (without it the platform spent minutes after each fault answering retries).
RETRY_BACKOFF_FIRST = 0.5
RETRY_BACKOFF_CAP = 30.0
CONSUMERS = 50
SHANGHAI = ZoneInfo("Asia/Shanghai")
FAULTS = ("kill mediation", "kill merchants", "freeze broker", "kill postgres", "kill complaints")


@dataclass
class Window:
    ok: int = 0
    unavailable: int = 0
    other: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass
class Soak:
    stack: Stack
    started: float = field(default_factory=time.monotonic)
    windows: dict[int, Window] = field(default_factory=dict)
    filed: list[str] = field(default_factory=list)
    abandoned: int = 0
    # Answers other than 201 and 503 by status (0: no answer, the connection failed or the 30 s timeout ran out).
    other_statuses: Counter[int] = field(default_factory=Counter)
    faults: list[tuple[float, str]] = field(default_factory=list)
    sign_in_failures: int = 0
    memory: dict[int, dict[str, float]] = field(default_factory=dict)

    def window(self, at: float) -> Window:
        return self.windows.setdefault(int((at - self.started) // WINDOW_SECONDS), Window())


def private_mib(pid: int, *, with_children: bool = True) -> float:
    """RssAnon of the process (and all its descendants), in MiB (0 for a process that is gone)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The parent is the second field after the parenthesised command name.
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
    tree, frontier = {pid}, [pid] if with_children else []
    while frontier:
        children = [child for child, parent in parents.items() if parent == frontier[-1]]
        frontier.pop()
        frontier += [child for child in children if child not in tree]
        tree.update(children)
    kib = 0
    for member in tree:
        with contextlib.suppress(OSError):
            kib += sum(int(line.split()[1]) for line in Path(f"/proc/{member}/status").read_text().splitlines()
                       if line.startswith("RssAnon:"))
    return round(kib / 1024, 1)


def sample_memory(soak: Soak) -> None:
    stack = soak.stack
    pids = {name: child.process.pid for name, child in stack.processes.items()}
    for name, child in (("postgres", stack.postgres), ("tansu", stack.broker)):
        if child is not None:
            pids[name] = child.process.pid
    sample = {name: private_mib(pid) for name, pid in sorted(pids.items())}
    # The platform's processes are the generator's children: it is measured alone.
    sample["load generator"] = private_mib(os.getpid(), with_children=False)
    soak.memory[int((time.monotonic() - soak.started) // WINDOW_SECONDS)] = sample


async def watch_memory(soak: Soak, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.to_thread(sample_memory, soak)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WINDOW_SECONDS)


def soak_body(demo: dict[str, Any], phone: str) -> bytes:
    """A green-channel complaint against demo enterprise A: every one must reach the enterprise's case list."""
    purchased = (dt.datetime.now(SHANGHAI) - dt.timedelta(days=3)).date().isoformat()
    return orjson.dumps({
        "kind": "complaint", "green_channel": True,
        "complainant": {"name": "王芳", "phone": phone, "address": "青海省格尔木市昆仑中路12号"},
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
        "request": {"type": "refund", "amount_fen": 9900}, "facts": "购买的枸杞与网页宣传不符，商家拒绝退货。",
        "purchase": {"date": purchased, "amount_fen": 9900, "order_no": "SOAK"},
        "sector": "online_shopping", "category": "food.local_specialty", "channel": "app"})


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0, help="filings per second")
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between injected faults")
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS), metavar="FAULT",
                        help=f"the cycle of faults, in order (default: all of {', '.join(FAULTS)})")
    parser.add_argument("--sign-in-every", type=float, default=300.0,
                        help="seconds between the consumers' fresh sign-ins (access tokens last 900 s)")
    return parser.parse_args(argv)


async def file_one(soak: Soak, session: aiohttp.ClientSession, gateway: str, tokens: list[tuple[str, str]],
                   consumer: int, body: bytes) -> None:
    """One filing, retried on 503 after its Retry-After with the same Idempotency-Key (each try is counted), with the
    consumer's current token at each try; abandoned after `FILING_PATIENCE` seconds."""
    idempotency_key = str(uuid.uuid4())
    patience_ends = time.monotonic() + FILING_PATIENCE
    tries = 0
    while True:
        tries += 1
        sent = time.monotonic()
        headers = {"Authorization": f"Bearer {tokens[consumer][1]}", "Idempotency-Key": idempotency_key,
                   "Content-Type": "application/json"}
        try:
            async with session.post(f"{gateway}/v1/consumer/complaints", data=body, headers=headers) as answer:
                status = answer.status
                retry_after = float(answer.headers.get("Retry-After", "1"))
                payload: Any = await answer.json(content_type=None) if status == 201 else None
        except (aiohttp.ClientError, TimeoutError):
            status, retry_after, payload = 0, 1.0, None
        window = soak.window(sent)
        if status == 201:
            window.ok += 1
            window.latencies.append((time.monotonic() - sent) * 1000)
            soak.filed.append(str(payload["id"]))
            return
        if status == 503:
            window.unavailable += 1
        else:
            window.other += 1
            soak.other_statuses[status] += 1
        backoff = min(RETRY_BACKOFF_CAP, RETRY_BACKOFF_FIRST * 2 ** (tries - 1)) * random.uniform(1.0, 1.5)
        delay = max(retry_after, backoff)
        if time.monotonic() + delay > patience_ends:
            soak.abandoned += 1
            return
        await asyncio.sleep(delay)


async def first_sign_in(session: aiohttp.ClientSession, gateway: str) -> list[tuple[str, str]]:
    """The consumers' tokens; on a busy machine the fresh platform can answer a burst of sign-ins 503 for a while."""
    patience_ends = time.monotonic() + FILING_PATIENCE
    while True:
        try:
            return await consumer_tokens(session, gateway, CONSUMERS)
        except (RuntimeError, aiohttp.ClientError, TimeoutError) as error:
            if time.monotonic() > patience_ends:
                raise
            say(f"signing the consumers in failed ({error!r}); trying again in 5 s")
            await asyncio.sleep(5)


async def keep_signed_in(soak: Soak, session: aiohttp.ClientSession, gateway: str, tokens: list[tuple[str, str]],
                         every: float, stop: asyncio.Event) -> None:
    """Every `every` seconds, sign each consumer in again, one after the other (no burst of sign-ins on top of the
    filings); one that fails (a fault may be on) keeps its old token, still valid for a while, and is tried again
    5 s later."""
    due = list(range(len(tokens)))
    wait = every
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        failed = []
        for consumer in due:
            if stop.is_set():
                return
            try:
                tokens[consumer] = await sign_in_consumer(session, gateway, tokens[consumer][0])
            except (RuntimeError, aiohttp.ClientError, TimeoutError):
                soak.sign_in_failures += 1
                failed.append(consumer)
        if failed:
            say(f"{len(failed)} consumers could not sign in again; trying them again in 5 s")
        due, wait = (failed, 5.0) if failed else (list(range(len(tokens))), every)


async def inject(soak: Soak, fault: str) -> None:
    stack = soak.stack
    say(f"fault: {fault}")
    soak.faults.append((time.monotonic() - soak.started, fault))
    if fault == "freeze broker":
        assert stack.broker is not None
        os.kill(stack.broker.process.pid, signal.SIGSTOP)
        await asyncio.sleep(FREEZE_SECONDS)
        os.kill(stack.broker.process.pid, signal.SIGCONT)
    elif fault == "kill postgres":
        assert stack.postgres is not None
        os.kill(stack.postgres.process.pid, signal.SIGKILL)
    else:
        os.kill(stack.processes[fault.removeprefix("kill ")].process.pid, signal.SIGKILL)


async def delivered(stack: Stack, filed: list[str]) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(stack, "mediation"))
    try:
        return int(await connection.fetchval(
            "SELECT count(*) FROM mediation_case WHERE complaint_id = ANY($1::uuid[])", filed))
    finally:
        await connection.close()


async def run(arguments: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(BENCH_ENV)
    config = StackConfig(repo_root=REPO_ROOT, work_dir=Path(tempfile.mkdtemp(prefix="odr-soak-")),
                         secrets=StackSecrets.generate(), ports=Ports.free(), database_url=None, kafka_bootstrap=None,
                         embedded_pg_port=infra.free_port(), embedded_kafka_port=infra.free_port(),
                         database_prefix="odr_soak", fresh_databases=True, environment="dev")
    async with settled_stack(config) as stack, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=CONNECTIONS), timeout=aiohttp.ClientTimeout(total=30)) as session:
        supervisor = Supervisor(stack, policy=RestartPolicy(backoff_base=0.5, backoff_max=5.0, give_up_after=20),
                                report=say)
        stop = asyncio.Event()
        supervising = asyncio.create_task(supervisor.run(stop))
        gateway = stack.url(GATEWAY)
        demo = stack.demo_document()
        tokens = await first_sign_in(session, gateway)
        bodies = [soak_body(demo, phone) for phone, _ in tokens]
        soak = Soak(stack)
        signing_in = asyncio.create_task(keep_signed_in(soak, session, gateway, tokens, arguments.sign_in_every, stop))
        watching = asyncio.create_task(watch_memory(soak, stop))
        duration = arguments.minutes * 60
        filings: set[asyncio.Task[None]] = set()
        next_fault = arguments.fault_every
        fault_number = 0
        sent = 0
        while (elapsed := time.monotonic() - soak.started) < duration:
            due = int(elapsed * arguments.rate)
            while sent < due:
                consumer = sent % len(tokens)
                task = asyncio.create_task(file_one(soak, session, gateway, tokens, consumer, bodies[consumer]))
                filings.add(task)
                task.add_done_callback(filings.discard)
                sent += 1
            if elapsed >= next_fault:
                asyncio.create_task(inject(soak, arguments.faults[fault_number % len(arguments.faults)]))  # noqa: RUF006
                fault_number += 1
                next_fault += arguments.fault_every
            await asyncio.sleep(0.01)
        say(f"{sent} filings sent; waiting for the last answers and for the events to settle")
        await asyncio.gather(*filings)
        drain_started = time.monotonic()
        while (arrived := await delivered(stack, soak.filed)) < len(soak.filed):
            if time.monotonic() - drain_started > DRAIN_TIMEOUT:
                break
            await asyncio.sleep(1)
        stop.set()
        await asyncio.gather(supervising, signing_in, watching)
    windows = [{"t": index * WINDOW_SECONDS, "ok": window.ok, "unavailable_503": window.unavailable,
                "other": window.other,
                "p50_ms": percentile(sorted(window.latencies), 0.5) if window.latencies else None,
                "p95_ms": percentile(sorted(window.latencies), 0.95) if window.latencies else None,
                "memory_mib": soak.memory.get(index, {})}
               for index, window in sorted(soak.windows.items())]
    memory = [sample for _, sample in sorted(soak.memory.items())]
    chart(windows, soak.faults)
    return {"minutes": arguments.minutes, "rate": arguments.rate, "fault_every": arguments.fault_every,
            "filed": len(soak.filed), "delivered": arrived, "lost": len(soak.filed) - arrived, "duplicates": 0,
            "abandoned": soak.abandoned, "sign_in_failures": soak.sign_in_failures,
            "answered_503": sum(window.unavailable for window in soak.windows.values()),
            "other_errors": sum(window.other for window in soak.windows.values()),
            "other_statuses": {str(status): count for status, count in sorted(soak.other_statuses.items())},
            "restarts": {name: supervisor.restarts(name) for name in sorted(supervisor.records)},
            "given_up": supervisor.given_up(), "faults": soak.faults,
            "memory_mib": {name: {"first": memory[0].get(name), "last": memory[-1].get(name),
                                  "peak": max(sample.get(name, 0.0) for sample in memory)}
                           for name in sorted({name for sample in memory for name in sample})},
            "windows": windows}


def chart(windows: list[dict[str, Any]], faults: list[tuple[float, str]]) -> None:
    def draw(figure: Any) -> None:
        answers, latency, memory = figure.subplots(3, 1, sharex=True)
        times = [window["t"] for window in windows]
        answers.plot(times, [window["ok"] / WINDOW_SECONDS for window in windows], label="201 /s")
        answers.plot(times, [window["unavailable_503"] / WINDOW_SECONDS for window in windows], label="503 /s")
        answers.plot(times, [window["other"] / WINDOW_SECONDS for window in windows], label="other /s")
        latency.plot(times, [window["p50_ms"] for window in windows], label="p50")
        latency.plot(times, [window["p95_ms"] for window in windows], label="p95")
        names = sorted({name for window in windows for name in window["memory_mib"]})
        for name in names:
            memory.plot(times, [window["memory_mib"].get(name) for window in windows], label=name)
        for at, fault in faults:
            for axis in (answers, latency, memory):
                axis.axvline(at, color="grey", linewidth=0.7, linestyle=":")
            answers.annotate(fault, (at, 0), rotation=90, fontsize=7, va="bottom")
        answers.set(ylabel="answers per second", title="soak: filings under injected faults")
        answers.legend(fontsize=8)
        latency.set(ylabel="latency of 201s (ms)", yscale="log")
        latency.legend(fontsize=8)
        memory.set(xlabel="seconds", ylabel="private memory (MiB)")
        memory.legend(fontsize=7, ncol=4)

    charts.save(SCENARIO, draw, size=(10, 8))


def main(argv: list[str] | None = None) -> int:
    result = record(SCENARIO, asyncio.run(run(parse(argv))))
    return 0 if result["lost"] == 0 and result["abandoned"] == 0 and not result["given_up"] else 1


if __name__ == "__main__":
    sys.exit(main())
