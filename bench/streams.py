"""Live streams: 1,000, 5,000 and 10,000 server-sent-event streams open through the gateway while cases change.

For each level, LEVEL_COMPLAINTS fresh complaints are filed (one per consumer); the streams
(GET /v1/consumer/complaints/{id}/stream, the owner's token) are spread evenly over them and opened at OPEN_RATE a
second; once every stream has delivered its first event, the resident memory (VmRSS) of every platform process and of
the generator is read from /proc, then the complaints are withdrawn one after another and the time from sending
the withdrawal to each stream's next event is the delivery latency (withdrawals stop after CHANGES_BUDGET seconds).

    .venv/bin/python -m bench.streams [--levels 1000 5000 10000] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import build_bodies, check_quiet, consumer_tokens, percentile, record, running_platform, say

SCENARIO = "streams"
LEVEL_COMPLAINTS = 100
OPEN_RATE = 100.0
FIRST_EVENT_TIMEOUT = 120.0
DELIVERY_TIMEOUT = 20.0
CHANGES_BUDGET = 90.0
# The gateway serves the complaint streams from one case-change feed (gateway.live), so a stream holds one socket
# there and none in complaints: one gateway process takes 10,000 of them within the machine's 20,000 open files.


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--quick", action="store_true", help="levels 100 and 300: a smoke run")
    parser.add_argument("--gateway-workers", type=int, default=1, help="uvicorn workers of the gateway (default 1)")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.levels = [100, 300]
    return arguments


def rss_mib(pid: int, *, with_children: bool = True) -> float:
    """Resident memory of a process and (unless told otherwise) every process below it: uvicorn workers run as
    children of their process, and the platform's processes as children of this generator."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total_kib, pending = 0, [pid]
    while pending:
        current = pending.pop()
        if with_children:
            pending.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(total_kib / 1024, 1)


class Stream:
    """One open event stream: when each `complaint` event arrived."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.first = asyncio.Event()
        self.changed = asyncio.Event()
        self.failure: str | None = None

    async def follow(self, session: aiohttp.ClientSession, url: str, token: str, stop: asyncio.Event) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        try:
            async with session.get(url, headers=headers) as answer:
                if answer.status != 200:
                    self.failure = f"status {answer.status}"
                    self.first.set()
                    return
                async for line in answer.content:
                    if line.startswith(b"event: complaint"):
                        self.arrivals.append(time.monotonic())
                        self.first.set()
                        self.changed.set()
                    if stop.is_set():
                        return
        except Exception as error:  # a broken stream is a measured outcome
            self.failure = type(error).__name__
            self.first.set()


async def file_complaints(session: aiohttp.ClientSession, gateway: str, bodies: list[bytes],
                          tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """[(complaint id, owner's token)], filed 20 at a time."""
    filed: list[tuple[str, str]] = []

    async def one(body: bytes, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with session.post(f"{gateway}/v1/consumer/complaints", data=body, headers=headers) as answer:
            if answer.status != 201:
                raise SystemExit(f"filing answered {answer.status}: {await answer.text()}")
            filed.append((str(orjson.loads(await answer.read())["id"]), token))

    for start in range(0, len(bodies), 20):
        await asyncio.gather(*(one(body, tokens[(start + index) % len(tokens)][1])
                               for index, body in enumerate(bodies[start:start + 20])))
    return filed


async def withdraw(session: aiohttp.ClientSession, url: str, token: str) -> str:
    """The withdrawal's status code, or the name of the error it ended in."""
    try:
        async with session.post(url, headers={"Authorization": f"Bearer {token}"},
                                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)) as answer:
            await answer.read()
            return str(answer.status)
    except Exception as error:  # a failed change is a measured outcome
        return type(error).__name__


async def delivered(streams: list[Stream], baseline: dict[int, int]) -> None:
    """Until every stream got an event past its baseline count, or DELIVERY_TIMEOUT."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    for stream in streams:
        while len(stream.arrivals) <= baseline[id(stream)] and time.monotonic() < deadline:
            stream.changed.clear()
            try:
                await asyncio.wait_for(stream.changed.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return


async def level(stack: Any, session: aiohttp.ClientSession, count: int, cases: list[tuple[str, str]]) -> dict[str, Any]:
    gateway = stack.url("gateway")
    stop = asyncio.Event()
    streams: list[Stream] = []
    followers: list[asyncio.Task[None]] = []
    by_case: dict[str, list[Stream]] = {case_id: [] for case_id, _ in cases}
    began = time.monotonic()
    for index in range(count):
        case_id, token = cases[index % len(cases)]
        stream = Stream()
        streams.append(stream)
        by_case[case_id].append(stream)
        followers.append(asyncio.create_task(
            stream.follow(session, f"{gateway}/v1/consumer/complaints/{case_id}/stream", token, stop)))
        await asyncio.sleep(max(0.0, began + (index + 1) / OPEN_RATE - time.monotonic()))
    try:
        await asyncio.wait_for(asyncio.gather(*(stream.first.wait() for stream in streams)), FIRST_EVENT_TIMEOUT)
    except TimeoutError:
        say(f"not every stream delivered its first event within {FIRST_EVENT_TIMEOUT:.0f} s")
    opened_s = time.monotonic() - began
    failures: dict[str, int] = {}
    for stream in streams:
        if stream.failure or not stream.arrivals:
            failures[stream.failure or "no first event"] = failures.get(stream.failure or "no first event", 0) + 1
    memory = {name: rss_mib(child.process.pid) for name, child in stack.processes.items()}
    memory["generator"] = rss_mib(os.getpid(), with_children=False)
    say(f"{count} streams: open in {opened_s:.1f} s, failures {failures or 0}, RSS MiB {memory}")
    latencies: list[float] = []
    changes_until = time.monotonic() + CHANGES_BUDGET
    for case_id, token in cases:
        if time.monotonic() > changes_until:
            failures["changes not tried (budget spent)"] = failures.get("changes not tried (budget spent)", 0) + 1
            continue
        baseline = {id(stream): len(stream.arrivals) for stream in by_case[case_id]}
        sent = time.monotonic()
        outcome = await withdraw(session, f"{gateway}/v1/consumer/complaints/{case_id}/withdraw", token)
        if outcome != "200":
            failures[f"withdraw {outcome}"] = failures.get(f"withdraw {outcome}", 0) + 1
            continue
        waiting = [stream for stream in by_case[case_id] if not stream.failure]
        await delivered(waiting, baseline)
        for stream in waiting:
            if len(stream.arrivals) > baseline[id(stream)]:
                latencies.append((stream.arrivals[baseline[id(stream)]] - sent) * 1000)
            else:
                failures["change not delivered"] = failures.get("change not delivered", 0) + 1
    stop.set()
    for follower in followers:
        follower.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    latencies.sort()
    return {"streams": count, "opened_s": round(opened_s, 1), "rss_mib": memory,
            "platform_rss_mib": round(sum(value for name, value in memory.items() if name != "generator"), 1),
            "delivered": len(latencies), "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1), "failures": failures}


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    levels: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    workers = {"gateway": arguments.gateway_workers}
    async with running_platform(SCENARIO, workers=workers) as stack, \
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        gateway = stack.url("gateway")
        tokens = await consumer_tokens(session, gateway, LEVEL_COMPLAINTS)
        bodies = build_bodies(stack.demo_document(), [phone for phone, _ in tokens],
                              LEVEL_COMPLAINTS * len(arguments.levels))
        cases = await file_complaints(session, gateway, bodies, tokens)
        await stack.wait_settled(within=120)
        for index, count in enumerate(sorted(arguments.levels)):
            share = cases[index * LEVEL_COMPLAINTS:(index + 1) * LEVEL_COMPLAINTS]
            levels.append(await level(stack, session, count, share))
            say(f"streams {levels[-1]}")
            await stack.wait_settled(within=120)
    last = levels[-1]
    result = {"streams": last["streams"], "platform_rss_mib": last["platform_rss_mib"], "p99_ms": last["p99_ms"],
              "quick": arguments.quick, "gateway_workers": arguments.gateway_workers, "levels": levels}
    charts.save(SCENARIO, lambda figure: draw(figure, levels))
    return record(SCENARIO, result)


def draw(figure: Any, levels: list[dict[str, Any]]) -> None:
    memory, latency = figure.subplots(1, 2)
    counts = [entry["streams"] for entry in levels]
    for name in levels[0]["rss_mib"]:
        memory.plot(counts, [entry["rss_mib"].get(name, 0) for entry in levels], marker="o", label=name)
    memory.plot(counts, [entry["platform_rss_mib"] for entry in levels], marker="s", color="black",
                label="platform total")
    memory.axhline(1024, color="red", linewidth=0.8, linestyle="--", label="target 1 GiB total")
    memory.set(xlabel="open streams", ylabel="resident memory (MiB)", title="memory with open SSE streams")
    memory.legend(fontsize=7)
    latency.plot(counts, [entry["p50_ms"] for entry in levels], marker="o", label="p50")
    latency.plot(counts, [entry["p99_ms"] for entry in levels], marker="x", linestyle="--", label="p99")
    latency.set(xlabel="open streams", ylabel="ms from withdrawal sent to event received", yscale="log",
                title="delivery latency of a case change")
    latency.legend(fontsize=8)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    asyncio.run(main())
