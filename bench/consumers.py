"""Consumers: how many filings a second mediation's and merchants' consumers apply, measured by draining a backlog.

    .venv/bin/python -m bench.consumers [--filings 6000] [--rate 200] [--quick]

Issue 18 asks that both keep up at 300 filings a second, more than intake files on two cores while the consumers
share them, so the propagation bench cannot show it. This one takes intake out of the way:

1. mediation and merchants are stopped; FILINGS complaints against demo enterprise A through the green channel are
   filed through the gateway at RATE (each puts `filed` and `routed` on complaints.complaint), and complaints'
   relay publishes them all. Enterprise A has a webhook for `routed` at a local receiver, as in the propagation
   bench, so merchants has a delivery to make for every filing.
2. Both services start. From the moment both answer /readyz, every consumer group's committed offsets are read every
   0.1 s until each group has applied all its events (mediation's `case_opened` events, made during the drain, feed
   merchants.on-mediation and complaints.on-mediation), mediation has opened and complaints has linked every case,
   and every webhook has arrived.

A group's rate is in filings a second: over its steady drain (from its first commit to its last), and from readiness
(joining the group included, a floor). They keep up at 300/s if the steady rates of mediation.on-complaints and
merchants.on-complaints, and the webhooks received a second counted from readiness, are all at least 300. CPU per
filing is each process's user + system time over the drain (and PostgreSQL's, every server process of the machine).

Baseline, same run: a bare aiokafka consumer (options as the platform's: manual commits, 200 records a poll, 50 ms
fetch wait) in a group of its own reads complaints.complaint from the start, inserts each poll's event ids in one
asyncpg transaction and commits the offsets; its rate over the same events, in filings a second, is the baseline,
and each group's ratio is its rate over the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    asyncpg_dsn,
    check_quiet,
    consumer_tokens,
    merchant_token,
    record,
    running_platform,
    say,
)
from bench.loadgen import LoadGenerator
from bench.profile import PROCESSES, cpu_now
from bench.propagation import ROUTED_TOPIC, Tracker, routed_to, subscribe_to_routed, webhook_receiver
from odr_runner.stack import group_partitions

SCENARIO = "consumers"
STOPPED = ("mediation", "merchants")
# The groups the drain waits for, and how many of their events one routed filing makes.
EVENTS_PER_FILING = {
    "mediation.on-complaints": 2,  # filed, routed
    "merchants.on-complaints": 2,
    "merchants.on-mediation": 1,  # case_opened
    "complaints.on-mediation": 1,
}
TARGET_RPS = 300
POLL_SECONDS = 0.1
DRAIN_TIMEOUT = 300.0
CASES_OPENED = "SELECT count(*) FROM mediation_case"
CASES_LINKED = "SELECT count(*) FROM complaint WHERE mediation_case_id IS NOT NULL"
BASELINE_GROUP = "bench.consumers.baseline"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.consumers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings", type=int, default=6000, help="complaints in the backlog (default 6000)")
    parser.add_argument("--rate", type=float, default=200.0, help="filings a second while building it (default 200)")
    parser.add_argument("--quick", action="store_true", help="600 filings: a smoke run")
    parser.add_argument("--consumers", type=int, default=200)
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.filings = 600
    return arguments


@dataclass
class Drain:
    """One group's committed offsets (summed over its partitions) before its service started and at every poll since
    the service was ready."""

    committed_before: int
    history: list[tuple[float, int]] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return self.history[-1][1] - self.committed_before

    def drained_at(self) -> float:
        """The first poll at which the group had committed what it has committed at the end."""
        final = self.history[-1][1]
        return next(moment for moment, committed in self.history if committed == final)

    def first_progress(self) -> tuple[float, int]:
        """The first poll at which the group had committed something: it had joined and applied its first fetch."""
        return next((moment, total) for moment, total in self.history if total > self.committed_before)


@dataclass
class Drained:
    groups: dict[str, Drain]
    ready: float  # monotonic
    ready_wall: float  # wall clock, comparable with the webhook receiver's arrivals
    cpu_s: dict[str, float] = field(default_factory=dict)


async def committed(probes: dict[str, AIOKafkaConsumer]) -> dict[str, int]:
    """Per group, the sum of its committed offsets (none counting as 0)."""
    totals = {}
    for group, probe in probes.items():
        totals[group] = sum([await probe.committed(partition) or 0 for partition in group_partitions(group)])
    return totals


async def scalar(stack: Any, query: str, service: str = "complaints") -> int:
    connection = await asyncpg.connect(asyncpg_dsn(stack, service))
    try:
        return int(await connection.fetchval(query))
    finally:
        await connection.close()


async def build_backlog(stack: Any, session: aiohttp.ClientSession, arguments: argparse.Namespace,
                        webhook_port: int) -> int:
    """Enterprise A's webhook set; with mediation and merchants stopped, file the backlog and let complaints publish
    it. Returns the complaints filed."""
    gateway = stack.url("gateway")
    demo = stack.demo_document()
    merchant_a = demo["merchants"][0]
    token = await merchant_token(session, gateway, merchant_a)
    tokens = await consumer_tokens(session, gateway, arguments.consumers)
    await subscribe_to_routed(session, gateway, token, webhook_port)
    unsettled = await stack.wait_settled(within=60)
    if unsettled:
        raise SystemExit(f"the platform did not settle before the backlog: {unsettled}")
    for name in STOPPED:
        stack.stop_process(name)
    bodies = routed_to(demo, merchant_a, [phone for phone, _ in tokens], arguments.filings)
    generator = LoadGenerator([(body, {"Content-Type": "application/json",
                                       "Authorization": f"Bearer {tokens[index % len(tokens)][1]}"})
                               for index, body in enumerate(bodies)])
    routed_before = await scalar(stack, "SELECT count(*) FROM complaint WHERE merchant_id IS NOT NULL")
    try:
        step = await generator.step(f"{gateway}/v1/consumer/complaints", arguments.rate,
                                    arguments.filings / arguments.rate)
    finally:
        generator.close()
    say(f"backlog: {step.summary()}")
    while await scalar(stack, "SELECT count(*) FROM outbox WHERE published_at IS NULL"):
        say("waiting for complaints' relay to publish the backlog")
        await asyncio.sleep(0.5)
    # Counted in the database: a filing the generator gave up on may still have been made.
    return await scalar(stack, "SELECT count(*) FROM complaint WHERE merchant_id IS NOT NULL") - routed_before


async def applied_everywhere(stack: Any, tracker: Tracker, filed: int, before: dict[str, int]) -> bool:
    """Every filing of the backlog has its mediation case, complaints has recorded it and its webhook has come."""
    return (len(tracker.webhook) >= filed
            and await scalar(stack, CASES_OPENED, "mediation") >= before["mediation"] + filed
            and await scalar(stack, CASES_LINKED) >= before["complaints"] + filed)


async def drain(stack: Any, tracker: Tracker, filed: int) -> Drained:
    """Start the stopped services; follow every group from their readiness until every filing has been applied
    everywhere and every group has committed all its events (counted, not compared with the broker's end offsets:
    Tansu 0.6 answers ListOffsets with the last batch's first offset + 1, short of the end when that batch holds
    several records)."""
    # Counted while mediation is stopped: nothing opens or links a case until it starts.
    before = {"mediation": await scalar(stack, CASES_OPENED, "mediation"),
              "complaints": await scalar(stack, CASES_LINKED)}
    probes = {group: AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, group_id=group,
                                      enable_auto_commit=False) for group in EVENTS_PER_FILING}
    for probe in probes.values():
        await probe.start()
    try:
        groups = {group: Drain(total) for group, total in (await committed(probes)).items()}
        for name in STOPPED:
            stack.start_process(name)
        await stack.wait_ready(list(STOPPED))
        pids = {name: stack.processes[name].process.pid for name in PROCESSES}
        if stack.broker is not None:
            pids["broker"] = stack.broker.process.pid
        cpu_before = cpu_now(pids)
        drained = Drained(groups, ready=time.monotonic(), ready_wall=time.time())
        next_report = drained.ready + 5
        while True:
            moment = time.monotonic()
            for group, total in (await committed(probes)).items():
                drained.groups[group].history.append((moment, total))
            if (all(state.applied >= EVENTS_PER_FILING[group] * filed for group, state in drained.groups.items())
                    and await applied_everywhere(stack, tracker, filed, before)):
                break
            if moment >= next_report:
                next_report = moment + 5
                say(f"applied: {dict((group, state.applied) for group, state in drained.groups.items())}, "
                    f"webhooks {len(tracker.webhook)} of {filed}")
            if moment - drained.ready > DRAIN_TIMEOUT:
                raise SystemExit(f"not drained after {DRAIN_TIMEOUT:.0f} s: "
                                 f"{dict((group, state.applied) for group, state in drained.groups.items())}, "
                                 f"{len(tracker.webhook)} of {filed} webhooks")
            await asyncio.sleep(POLL_SECONDS)
        cpu_after = cpu_now(pids)
        drained.cpu_s = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
        return drained
    finally:
        for probe in probes.values():
            await probe.stop()


async def bare_consumer(stack: Any) -> tuple[int, float]:
    """A bare aiokafka + asyncpg consumer reading the routed topic until a second passes without records: (events,
    seconds from its first poll with records to its last commit)."""
    connection = await asyncpg.connect(asyncpg_dsn(stack, "complaints"))
    consumer = AIOKafkaConsumer(ROUTED_TOPIC, bootstrap_servers=stack.kafka_bootstrap, group_id=BASELINE_GROUP,
                                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
                                max_poll_records=200)
    try:
        await connection.execute("CREATE TABLE bench_baseline_inbox (event_id text PRIMARY KEY)")
        await consumer.start()
        seen = 0
        began = finished = 0.0
        while batches := await consumer.getmany(timeout_ms=1000 if seen else 10_000):
            began = began or time.monotonic()
            for partition, messages in batches.items():
                async with connection.transaction():
                    await connection.executemany(
                        "INSERT INTO bench_baseline_inbox VALUES ($1) ON CONFLICT DO NOTHING",
                        [(f"{partition.partition}:{message.offset}",) for message in messages])
                await consumer.commit({partition: messages[-1].offset + 1})
                seen += len(messages)
            finished = time.monotonic()
        return seen, finished - began
    finally:
        await consumer.stop()
        await connection.execute("DROP TABLE IF EXISTS bench_baseline_inbox")
        await connection.close()


def summarise(drained: Drained, filed: int, tracker: Tracker, baseline: tuple[int, float]) -> dict[str, Any]:
    baseline_events, baseline_s = baseline
    baseline_rps = baseline_events / 2 / baseline_s if baseline_s else None
    groups = {}
    for group, state in drained.groups.items():
        done = state.drained_at()
        joined, committed_then = state.first_progress()
        steady = (state.applied - (committed_then - state.committed_before)) / EVENTS_PER_FILING[group]
        from_ready = state.applied / EVENTS_PER_FILING[group] / (done - drained.ready)
        rps = steady / (done - joined) if done > joined else None
        groups[group] = {"events": state.applied, "first_commit_s": round(joined - drained.ready, 2),
                         "drained_s": round(done - drained.ready, 2), "filings_per_s": round(rps, 1) if rps else None,
                         "filings_per_s_from_readiness": round(from_ready, 1),
                         "ratio": round(rps / baseline_rps, 3) if rps and baseline_rps else None}
    webhook_s = max(tracker.webhook.values(), default=drained.ready_wall) - drained.ready_wall
    webhook_rps = len(tracker.webhook) / webhook_s if webhook_s > 0 else None
    keeping_up = [groups[group]["filings_per_s"] for group in ("mediation.on-complaints", "merchants.on-complaints")]
    keeping_up.append(webhook_rps)
    return {
        "filed": filed, "groups": groups, "webhooks": len(tracker.webhook), "webhook_s": round(webhook_s, 2),
        "webhooks_per_s": round(webhook_rps, 1) if webhook_rps else None,
        "baseline_events": baseline_events, "baseline_s": round(baseline_s, 2),
        "baseline_filings_per_s": round(baseline_rps, 1) if baseline_rps else None,
        "cpu_ms_per_filing": {name: round(1000 * seconds / filed, 2) for name, seconds in drained.cpu_s.items()},
        "target_rps": TARGET_RPS,
        "keeps_up": all(rate is not None and rate >= TARGET_RPS for rate in keeping_up),
    }


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    tracker = Tracker()
    runner, port = await webhook_receiver(tracker)
    try:
        async with running_platform(SCENARIO) as stack, aiohttp.ClientSession() as session:
            filed = await build_backlog(stack, session, arguments, port)
            say(f"{filed} routed filings on the broker; starting {' and '.join(STOPPED)}")
            drained = await drain(stack, tracker, filed)
            baseline = await bare_consumer(stack)
    finally:
        await runner.cleanup()
    result = {"quick": arguments.quick, "rate": arguments.rate, **summarise(drained, filed, tracker, baseline)}
    say(f"consumers {result}")
    charts.save(SCENARIO, lambda figure: draw(figure, result))
    return record(SCENARIO, result)


def draw(figure: Any, result: dict[str, Any]) -> None:
    axes = figure.subplots(1, 1)
    labels = [*result["groups"], "webhooks received", "bare consumer (baseline)"]
    steady = [entry["filings_per_s"] or 0 for entry in result["groups"].values()]
    from_readiness = [entry["filings_per_s_from_readiness"] for entry in result["groups"].values()]
    positions = range(len(labels))
    axes.barh([position - 0.2 for position in positions[:len(steady)]], steady, height=0.4, color="tab:blue",
              label="steady drain (first commit to last)")
    axes.barh([position + 0.2 for position in positions[:len(steady) + 1]],
              [*from_readiness, result["webhooks_per_s"] or 0], height=0.4, color="tab:cyan",
              label="from readiness (joining included)")
    axes.barh([positions[-1]], [result["baseline_filings_per_s"] or 0], height=0.4, color="tab:gray")
    axes.axvline(TARGET_RPS, color="tab:red", linewidth=0.8, linestyle="--", label=f"target {TARGET_RPS}/s")
    axes.set_yticks(list(positions), labels)
    axes.set(xlabel=f"filings a second, draining a backlog of {result['filed']:,}", xscale="log",
             title="consumer capacity (mediation and merchants started on a backlog)")
    axes.set_xlim(left=100)
    axes.invert_yaxis()
    axes.legend(fontsize=8)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    asyncio.run(main())
