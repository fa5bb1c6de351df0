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
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import build_bodies, consumer_tokens, merchant_token, percentile, record, running_platform, say
from bench.loadgen import ABORTED, OVERLOAD_SECONDS

SCENARIO = "propagation"
POLL_INTERVAL = 0.02
CONCURRENCY = 32
DRAIN_TIMEOUT = 90.0
ROUTED = "complaints.complaint.routed.v1"


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
    return asyncio.get_running_loop().time()


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


async def poll_cases(session: aiohttp.ClientSession, url: str, token: str, tracker: Tracker,
                     stop: asyncio.Event) -> None:
    """Newest cases first; follow the cursor only while every case on the page is new to us."""
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        cursor: str | None = None
        for _ in range(10):
            query = {"limit": "200", **({"cursor": cursor} if cursor else {})}
            async with session.get(url, params=query, headers=headers) as answer:
                if answer.status != 200:
                    tracker.error(f"list {answer.status}")
                    break
                page = orjson.loads(await answer.read())
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


def latencies_ms(arrivals: dict[str, float], filed: dict[str, float]) -> list[float]:
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


async def drain(tracker: Tracker, within: float) -> None:
    """Until every filed complaint is visible and has its webhook, or the timeout."""
    deadline = now() + within
    while now() < deadline:
        if all(key in tracker.visible and key in tracker.webhook for key in tracker.filed):
            return
        await asyncio.sleep(0.1)


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    steps: list[dict[str, Any]] = []
    async with running_platform(SCENARIO) as stack, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512)) as session:
        gateway = stack.url("gateway")
        demo = stack.demo_document()
        merchant_a = demo["merchants"][0]
        token = await merchant_token(session, gateway, merchant_a)
        tokens = await consumer_tokens(session, gateway, arguments.consumers)
        tracker = Tracker()
        runner, port = await webhook_receiver(tracker)
        try:
            async with session.put(f"{gateway}/v1/merchant/webhook", headers={"Authorization": f"Bearer {token}"},
                                   json={"url": f"http://127.0.0.1:{port}/hook", "events": [ROUTED]}) as answer:
                if answer.status != 200:
                    raise SystemExit(f"PUT /v1/merchant/webhook answered {answer.status}: {await answer.text()}")
            # Every body names enterprise A through the green channel, so every filing is routed to it.
            only_a = {**demo, "merchants": [merchant_a, merchant_a]}
            bodies = build_bodies(only_a, [phone for phone, _ in tokens], 20000)
            bodies = [orjson.dumps({**orjson.loads(body), "respondent": {"merchant_id": merchant_a["merchant_id"]},
                                    "green_channel": True}) for body in bodies]
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
                say(f"propagation {steps[-1]}")
                await stack.wait_settled(within=60)
            tracker.filed.clear()
            tracker.errors.clear()
            began = now()
            offset += await closed_loop(session, url, requests, arguments.duration, tracker, offset)
            await drain(tracker, DRAIN_TIMEOUT)
            steps.append(summary(f"max ({CONCURRENCY} concurrent)", None,
                                 filing_span(tracker, began, arguments.duration), tracker))
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
        "steps": steps,
    }
    charts.save(SCENARIO, lambda figure: draw(figure, steps))
    return record(SCENARIO, result)


def draw(figure: Any, steps: list[dict[str, Any]]) -> None:
    axes = figure.subplots(1, 1)
    labels = [f"{step['rate']}\n({step['filed_rps']:.0f}/s filed)" for step in steps]
    positions = range(len(steps))
    width = 0.2
    for shift, (key, name) in enumerate((("visible_p50_ms", "case list p50"), ("visible_p99_ms", "case list p99"),
                                         ("webhook_p50_ms", "webhook p50"), ("webhook_p99_ms", "webhook p99"))):
        axes.bar([position + (shift - 1.5) * width for position in positions], [step[key] for step in steps],
                 width=width, label=name)
    axes.axhline(200, color="red", linewidth=0.8, linestyle="--", label="target p99 200 ms at 200/s")
    axes.set_xticks(list(positions), labels)
    axes.set(ylabel="ms from the 201 of POST complaint", yscale="log",
             title="propagation to the enterprise (GET /v1/merchant/cases; webhook)")
    axes.legend(fontsize=8)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    asyncio.run(main())
