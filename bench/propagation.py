"""Propagation: from the 201 of POST complaint to the case reaching the enterprise.

Two arrivals are timed for every complaint filed against demo enterprise A through the green channel:
- the webhook `complaints.complaint.routed.v1` received by a local receiver (merchants' delivery worker), and
- the case visible in GET /v1/merchant/cases (mediation, after its consumer applied the routed event), found by
  polling the newest page every POLL_INTERVAL seconds (the poll adds at most that much).
Rates: 50/s and 200/s open loop, then "max": CONCURRENCY filers in a closed loop, as fast as the platform takes them.

    .venv/bin/python -m bench.propagation [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    asyncpg_dsn,
    build_bodies,
    check_quiet,
    consumer_tokens,
    merchant_token,
    percentile,
    record,
    running_platform,
    say,
)
from bench.loadgen import ABORTED, OVERLOAD_SECONDS
from servicekit.events.kafka import ensure_topics

SCENARIO = "propagation"
POLL_INTERVAL = 0.02
# Newest cases per poll: a small page keeps each poll (and so the sighting's delay) short; the poller follows the
# cursor while a page is all new, so a burst is still seen whole.
PAGE_SIZE = 50
CONCURRENCY = 32
DRAIN_TIMEOUT = 90.0
ROUTED = "complaints.complaint.routed.v1"
ROUTED_TOPIC = "complaints.complaint"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.propagation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate (default 20)")
    parser.add_argument("--quick", action="store_true", help="3 s per rate: a smoke run")
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0])
    parser.add_argument("--consumers", type=int, default=200)
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.duration = 3.0
    return arguments


@dataclass
class Tracker:
    """Per complaint id: when its 201 came, when the webhook came, when the case list first showed it."""

    filed: dict[str, float] = field(default_factory=dict)
    webhook: dict[str, float] = field(default_factory=dict)
    visible: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    seen_cases: set[str] = field(default_factory=set)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def now() -> float:
    # Wall-clock seconds, comparable with the timestamps PostgreSQL records on the same machine (the hop breakdown).
    return time.time()


async def webhook_receiver(tracker: Tracker) -> tuple[web.AppRunner, int]:
    """A local endpoint answering 204 at once and noting when each routed event arrived."""

    async def receive(request: web.Request) -> web.Response:
        arrived = now()
        payload = orjson.loads(await request.read())
        if payload.get("type") == ROUTED:
            tracker.webhook.setdefault(str(payload["data"]["complaint_id"]), arrived)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def subscribe_to_routed(session: aiohttp.ClientSession, gateway: str, token: str, port: int) -> None:
    """The enterprise whose token this is gets a webhook for `routed` at the local receiver on `port`."""
    async with session.put(f"{gateway}/v1/merchant/webhook", headers={"Authorization": f"Bearer {token}"},
                           json={"url": f"http://127.0.0.1:{port}/hook", "events": [ROUTED]}) as answer:
        if answer.status != 200:
            raise SystemExit(f"PUT /v1/merchant/webhook answered {answer.status}: {await answer.text()}")


def routed_to(demo: dict[str, Any], merchant: dict[str, Any], phones: list[str], count: int) -> list[bytes]:
    """CFPB bodies that all name `merchant` through the green channel, so every filing is routed to it."""
    bodies = build_bodies({**demo, "merchants": [merchant, merchant]}, phones, count)
    return [orjson.dumps({**orjson.loads(body), "respondent": {"merchant_id": merchant["merchant_id"]},
                          "green_channel": True}) for body in bodies]


async def poll_cases(session: aiohttp.ClientSession, url: str, token: str, tracker: Tracker,
                     stop: asyncio.Event) -> None:
    """Newest cases first; follow the cursor only while every case on the page is new to us."""
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        cursor: str | None = None
        for _ in range(10):
            query = {"limit": str(PAGE_SIZE), **({"cursor": cursor} if cursor else {})}
            try:
                async with session.get(url, params=query, headers=headers) as answer:
                    if answer.status != 200:
                        tracker.error(f"list {answer.status}")
                        break
                    page = orjson.loads(await answer.read())
            except aiohttp.ClientError as error:  # a failed poll is counted; the next one tries again
                tracker.error(f"list {type(error).__name__}")
                break
            seen = now()
            fresh = [item for item in page["items"] if item["id"] not in tracker.seen_cases]
            for item in fresh:
                tracker.seen_cases.add(item["id"])
                tracker.visible.setdefault(str(item["complaint_id"]), seen)
            cursor = page.get("next_cursor")
            if not cursor or len(fresh) < len(page["items"]):
                break
        await asyncio.sleep(POLL_INTERVAL)


async def file_one(session: aiohttp.ClientSession, url: str, request: tuple[bytes, dict[str, str]],
                   tracker: Tracker) -> None:
    body, headers = request
    try:
        async with session.post(url, data=body, headers=headers) as answer:
            content = await answer.read()
            if answer.status == 201:
                tracker.filed[str(orjson.loads(content)["id"])] = now()
            else:
                tracker.error(f"file {answer.status}")
    except Exception as error:  # a failed filing is a measured outcome
        tracker.error(type(error).__name__)


async def open_loop(session: aiohttp.ClientSession, url: str, requests: list[tuple[bytes, dict[str, str]]],
                    rate: float, duration: float, tracker: Tracker, offset: int) -> None:
    """Filings at evenly spaced instants; stops sending (counted as errors) once 5 s of load is unanswered."""
    start = now()
    count = int(rate * duration)
    pending: set[asyncio.Task[None]] = set()
    for slot in range(count):
        if len(pending) > max(200, int(OVERLOAD_SECONDS * rate)):
            tracker.errors[ABORTED] = count - slot
            break
        delay = start + slot / rate - now()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(file_one(session, url, requests[(offset + slot) % len(requests)], tracker))
        pending.add(task)
        task.add_done_callback(pending.discard)
    while pending:
        await asyncio.gather(*list(pending))


async def closed_loop(session: aiohttp.ClientSession, url: str, requests: list[tuple[bytes, dict[str, str]]],
                      duration: float, tracker: Tracker, offset: int) -> int:
    deadline = now() + duration
    sent = 0

    async def filer() -> None:
        nonlocal sent
        while now() < deadline:
            index = offset + sent
            sent += 1
            await file_one(session, url, requests[index % len(requests)], tracker)

    await asyncio.gather(*(filer() for _ in range(CONCURRENCY)))
    return sent


async def broker_round_trip(bootstrap: str, rate: float, duration: float) -> dict[str, Any]:
    """The floor under every hop through Kafka: bare aiokafka produce -> consume on the same broker.

    Producer and consumer are configured as the platform's (acks=all, linger 2 ms; fetch_max_wait_ms 50, a group,
    manual commits), messages of about a filing's size go out at `rate` on an 8-partition topic, and each is timed
    from its send to its arrival at the consumer.
    """
    topic = f"bench.round-trip.{int(time.time())}"
    await ensure_topics(bootstrap, {topic: 8})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}.group",
                                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50)
    await producer.start()
    await consumer.start()
    sent: dict[int, float] = {}
    arrived: dict[int, float] = {}
    count = int(rate * duration)
    try:
        await asyncio.sleep(1.0)  # group join and first fetch

        async def consume() -> None:
            while len(arrived) < count:
                batches = await consumer.getmany(timeout_ms=200)
                for partition, messages in batches.items():
                    for message in messages:
                        arrived[int(message.key or b"0")] = now()
                    await consumer.commit({partition: messages[-1].offset + 1})

        reader = asyncio.create_task(consume())
        start = now()
        padding = b"x" * 1000
        for number in range(count):
            delay = start + number / rate - now()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[number] = now()
            await producer.send(topic, key=str(number).encode(), value=padding)
        await producer.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, 30)
    finally:
        await producer.stop()
        await consumer.stop()
    spans = latencies_ms(arrived, sent)
    return {"rate": rate, "messages": count, "received": len(spans), "p50_ms": round(percentile(spans, 0.5), 1),
            "p99_ms": round(percentile(spans, 0.99), 1), "max_ms": round(max(spans, default=float("nan")), 1)}


def latencies_ms(arrivals: dict[Any, float], filed: dict[Any, float]) -> list[float]:
    return sorted((arrivals[key] - filed[key]) * 1000 for key in filed if key in arrivals)


def filing_span(tracker: Tracker, began: float, duration: float) -> float:
    """Seconds from the first scheduled filing to the last 201 (at least the scheduled duration)."""
    return max(duration, max(tracker.filed.values(), default=began) - began)


def summary(label: str, offered: float | None, duration: float, tracker: Tracker) -> dict[str, Any]:
    visible = latencies_ms(tracker.visible, tracker.filed)
    webhook = latencies_ms(tracker.webhook, tracker.filed)
    return {
        "rate": label, "offered_rps": offered, "filed": len(tracker.filed),
        "filed_rps": round(len(tracker.filed) / duration, 1), "filing_errors": dict(tracker.errors),
        "visible": len(visible), "visible_p50_ms": round(percentile(visible, 0.5), 1),
        "visible_p99_ms": round(percentile(visible, 0.99), 1), "visible_max_ms": round(max(visible, default=0), 1),
        "webhooks": len(webhook), "webhook_p50_ms": round(percentile(webhook, 0.5), 1),
        "webhook_p99_ms": round(percentile(webhook, 0.99), 1), "webhook_max_ms": round(max(webhook, default=0), 1),
    }


# Each hop: (name, from, to), over the instants `hop_instants` collects per complaint.
HOPS: tuple[tuple[str, str, str], ...] = (
    ("outbox row -> 201", "outbox", "filed"),
    ("outbox row -> record sent", "outbox", "sent_to_kafka"),
    ("record sent -> marked published", "sent_to_kafka", "marked"),
    ("record sent -> merchants consume", "sent_to_kafka", "merchants_consumed"),
    ("merchants consume -> delivery row", "merchants_consumed", "delivery"),
    ("delivery row -> webhook sent", "delivery", "sent"),
    ("webhook sent -> received", "sent", "webhook"),
    ("delivery row -> webhook received", "delivery", "webhook"),
    ("record sent -> mediation consume", "sent_to_kafka", "mediation_consumed"),
    ("mediation consume -> case row", "mediation_consumed", "opened"),
    ("case row -> visible in list", "opened", "visible"),
)


async def _fetch(stack: Any, service: str, query: str, *arguments: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(stack, service))
    try:
        return list(await connection.fetch(query, *arguments))
    finally:
        await connection.close()


async def record_timestamps(bootstrap: str, topic: str, event_ids: set[str]) -> dict[str, float]:
    """Event id -> the record's timestamp (CreateTime: when the relay's producer took it), read without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, float] = {}
    try:
        partitions = [TopicPartition(topic, number) for number in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [partition for partition in partitions if await consumer.position(partition) < ends[partition]]:
            for messages in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for message in messages:
                    event_id = dict(message.headers).get("ce_id", b"").decode()
                    if event_id in event_ids:
                        found[event_id] = message.timestamp / 1000
    finally:
        await consumer.stop()
    return found


async def hop_instants(stack: Any, tracker: Tracker) -> dict[str, dict[str, float]]:
    """Per complaint filed in the step, the instants every hop left behind (epoch seconds, one machine's clock).

    The services already record them: the outbox row's `created_at` (the filing transaction's start) and
    `published_at` (when the relay marked it, after the broker's acknowledgement), the Kafka record's timestamp (the
    relay's send), each inbox row's `processed_at` (the consuming transaction's start), the delivery row, the first
    attempt (`at`: when the POST left) and the case row; the 201, the webhook's arrival and the case's first sighting
    come from this process.
    """
    complaint_ids = list(tracker.filed)
    outbox = await _fetch(stack, "complaints", """
        SELECT id, payload->>'complaint_id' AS complaint_id, extract(epoch FROM created_at)::float8 AS created,
               extract(epoch FROM published_at)::float8 AS marked
        FROM outbox WHERE event_type = $1 AND payload->>'complaint_id' = ANY($2::text[])""", ROUTED, complaint_ids)
    event_ids = [row["id"] for row in outbox]
    merchants = {row["event_id"]: row for row in await _fetch(stack, "merchants", """
        SELECT i.event_id, extract(epoch FROM i.processed_at)::float8 AS consumed,
               extract(epoch FROM d.created_at)::float8 AS delivery,
               (SELECT extract(epoch FROM a.at)::float8 FROM webhook_attempt a
                WHERE a.delivery_id = d.id ORDER BY a.at LIMIT 1) AS sent
        FROM inbox i LEFT JOIN webhook_delivery d ON d.event_id = i.event_id
        WHERE i.consumer_group = 'merchants.on-complaints' AND i.event_id = ANY($1::uuid[])""", event_ids)}
    mediation_inbox = {row["event_id"]: row["consumed"] for row in await _fetch(stack, "mediation", """
        SELECT event_id, extract(epoch FROM processed_at)::float8 AS consumed FROM inbox
        WHERE consumer_group = 'mediation.on-complaints' AND event_id = ANY($1::uuid[])""", event_ids)}
    opened = {str(row["complaint_id"]): row["opened"] for row in await _fetch(stack, "mediation", """
        SELECT complaint_id, extract(epoch FROM opened_at)::float8 AS opened FROM mediation_case
        WHERE complaint_id = ANY($1::uuid[])""", complaint_ids)}
    sent_to_kafka = await record_timestamps(stack.kafka_bootstrap, ROUTED_TOPIC, {str(event) for event in event_ids})
    instants: dict[str, dict[str, float]] = {}
    for row in outbox:
        complaint_id = row["complaint_id"]
        merchant = merchants.get(row["id"])
        found = {
            "outbox": row["created"], "marked": row["marked"], "filed": tracker.filed.get(complaint_id),
            "sent_to_kafka": sent_to_kafka.get(str(row["id"])),
            "merchants_consumed": merchant and merchant["consumed"], "delivery": merchant and merchant["delivery"],
            "sent": merchant and merchant["sent"], "webhook": tracker.webhook.get(complaint_id),
            "mediation_consumed": mediation_inbox.get(row["id"]), "opened": opened.get(complaint_id),
            "visible": tracker.visible.get(complaint_id),
        }
        instants[complaint_id] = {name: value for name, value in found.items() if value is not None}
    return instants


def hop_breakdown(instants: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50 / p99 / max ms of every hop, over the complaints that reached both of its ends."""
    breakdown: dict[str, dict[str, float]] = {}
    for name, start, end in HOPS:
        spans = sorted((times[end] - times[start]) * 1000 for times in instants.values()
                       if start in times and end in times)
        breakdown[name] = {"p50_ms": round(percentile(spans, 0.5), 1), "p99_ms": round(percentile(spans, 0.99), 1),
                           "max_ms": round(max(spans, default=float("nan")), 1)}
    return breakdown


async def drain(tracker: Tracker, within: float) -> None:
    """Until every filed complaint is visible and has its webhook, or the timeout."""
    deadline = now() + within
    while now() < deadline:
        if all(key in tracker.visible and key in tracker.webhook for key in tracker.filed):
            return
        await asyncio.sleep(0.1)


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    steps: list[dict[str, Any]] = []
    async with running_platform(SCENARIO) as stack, aiohttp.ClientSession(
            # Idle connections are dropped before the gateway's 5 s keep-alive ends, so none is reused as it closes.
            connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=4.0)) as session:
        gateway = stack.url("gateway")
        demo = stack.demo_document()
        merchant_a = demo["merchants"][0]
        token = await merchant_token(session, gateway, merchant_a)
        tokens = await consumer_tokens(session, gateway, arguments.consumers)
        round_trips = []
        for rate in arguments.rates:
            round_trips.append(await broker_round_trip(stack.kafka_bootstrap, rate, min(arguments.duration, 10.0)))
            say(f"broker round trip {round_trips[-1]}")
        tracker = Tracker()
        runner, port = await webhook_receiver(tracker)
        try:
            await subscribe_to_routed(session, gateway, token, port)
            bodies = routed_to(demo, merchant_a, [phone for phone, _ in tokens], 20000)
            requests = [(body, {"Content-Type": "application/json",
                                "Authorization": f"Bearer {tokens[index % len(tokens)][1]}"})
                        for index, body in enumerate(bodies)]
            url = f"{gateway}/v1/consumer/complaints"
            stop = asyncio.Event()
            poller = asyncio.create_task(poll_cases(session, f"{gateway}/v1/merchant/cases", token, tracker, stop))
            offset = 0
            for rate in arguments.rates:
                tracker.filed.clear()
                tracker.errors.clear()
                began = now()
                await open_loop(session, url, requests, rate, arguments.duration, tracker, offset)
                offset += int(rate * arguments.duration)
                await drain(tracker, DRAIN_TIMEOUT)
                steps.append(summary(f"{rate:.0f}/s", rate, filing_span(tracker, began, arguments.duration), tracker))
                steps[-1]["hops"] = hop_breakdown(await hop_instants(stack, tracker))
                say(f"propagation {steps[-1]}")
                await stack.wait_settled(within=60)
            tracker.filed.clear()
            tracker.errors.clear()
            began = now()
            offset += await closed_loop(session, url, requests, arguments.duration, tracker, offset)
            await drain(tracker, DRAIN_TIMEOUT)
            steps.append(summary(f"max ({CONCURRENCY} concurrent)", None,
                                 filing_span(tracker, began, arguments.duration), tracker))
            steps[-1]["hops"] = hop_breakdown(await hop_instants(stack, tracker))
            say(f"propagation {steps[-1]}")
            stop.set()
            await poller
        finally:
            await runner.cleanup()
    by_rate = {step["rate"]: step for step in steps}
    at_200 = by_rate.get("200/s")
    result = {
        "p50_ms_at_200": at_200["visible_p50_ms"] if at_200 else None,
        "p99_ms_at_200": at_200["visible_p99_ms"] if at_200 else None,
        "webhook_p99_ms_at_200": at_200["webhook_p99_ms"] if at_200 else None,
        "duration_s": arguments.duration, "quick": arguments.quick, "poll_interval_ms": POLL_INTERVAL * 1000,
        "steps": steps, "broker_round_trip": round_trips,
    }
    charts.save(SCENARIO, lambda figure: draw(figure, steps))
    return record(SCENARIO, result)


# Issue 18's figures for the 200/s step.
VISIBLE_P99_TARGET_MS = 500
WEBHOOK_P99_TARGET_MS = 1000


def draw(figure: Any, steps: list[dict[str, Any]]) -> None:
    axes = figure.subplots(1, 1)
    labels = [f"{step['rate']}\n({step['filed_rps']:.0f}/s filed)" for step in steps]
    positions = range(len(steps))
    width = 0.2
    for shift, (key, name) in enumerate((("visible_p50_ms", "case list p50"), ("visible_p99_ms", "case list p99"),
                                         ("webhook_p50_ms", "webhook p50"), ("webhook_p99_ms", "webhook p99"))):
        axes.bar([position + (shift - 1.5) * width for position in positions], [step[key] for step in steps],
                 width=width, label=name)
    axes.axhline(VISIBLE_P99_TARGET_MS, color="tab:orange", linewidth=0.8, linestyle="--",
                 label=f"target at 200/s: case list p99 {VISIBLE_P99_TARGET_MS} ms")
    axes.axhline(WEBHOOK_P99_TARGET_MS, color="tab:red", linewidth=0.8, linestyle="--",
                 label=f"target at 200/s: webhook p99 {WEBHOOK_P99_TARGET_MS} ms")
    axes.set_xticks(list(positions), labels)
    axes.set(ylabel="ms from the 201 of POST complaint", yscale="log",
             title="propagation to the enterprise (GET /v1/merchant/cases; webhook)")
    axes.legend(fontsize=8)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    asyncio.run(main())
