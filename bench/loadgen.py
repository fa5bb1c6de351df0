"""Open-loop HTTP load: requests leave at scheduled instants whatever the answers do, latency counts from the schedule.

Measuring from the scheduled instant (not from when the request actually left) keeps coordinated omission out: a
stalled server makes every request scheduled during the stall late, and each of them is counted late. The requests
are fired by worker processes (aiohttp on uvloop), each taking an equal share of the rate; the parent only merges.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from bench.common import percentile, say, use_uvloop

Request = tuple[bytes, dict[str, str]]
OVERLOAD_SECONDS = 5.0
ABORTED = "aborted-overload"

_requests: list[Request] = []


def _load_requests(requests: list[Request]) -> None:
    global _requests
    _requests = requests
    use_uvloop()


@dataclass
class Share:
    """What one worker measured: per request its status and latency, and when the last answer came."""

    statuses: list[str]
    latencies: list[float]
    started: float
    last_done: float
    cpu_s: float


@dataclass
class StepResult:
    """One fixed offered rate."""

    offered_rps: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    error_kinds: dict[str, int] = field(default_factory=dict)
    generator_cpu_s: float = 0.0
    sustained: bool = False

    def summary(self) -> str:
        return (f"offered {self.offered_rps:.0f}/s achieved {self.achieved_rps:.0f}/s ok {self.ok} errors "
                f"{self.errors} p50 {self.p50_ms:.1f} p95 {self.p95_ms:.1f} p99 {self.p99_ms:.1f} ms "
                f"{'SUSTAINED' if self.sustained else 'not sustained'} {self.error_kinds or ''} "
                f"(generator CPU {self.generator_cpu_s:.1f} s)")

    def as_dict(self) -> dict[str, Any]:
        return {name: (None if value != value else round(value, 2)) if isinstance(value, float) else value
                for name, value in asdict(self).items()}


def _fire_share(url: str, rate: float, duration: float, start_at: float, first: int, stride: int,
                connections: int, timeout: float) -> Share:
    cpu_before = time.process_time()
    share = asyncio.run(_fire(url, rate, duration, start_at, first, stride, connections, timeout))
    share.cpu_s = time.process_time() - cpu_before
    return share


async def _fire(url: str, rate: float, duration: float, start_at: float, first: int, stride: int,
                connections: int, request_timeout: float) -> Share:
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    count = int(rate * duration)
    statuses: list[str] = [""] * count
    latencies: list[float] = [0.0] * count
    last_done = 0.0
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout, skip_auto_headers=("User-Agent",),
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:

        async def one(slot: int, scheduled: float) -> None:
            nonlocal last_done
            body, headers = _requests[(first + slot * stride) % len(_requests)]
            try:
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    statuses[slot] = str(answer.status)
            except Exception as error:  # every failure is a measured outcome, never a crash of the generator
                statuses[slot] = type(error).__name__
            done = loop.time()
            latencies[slot] = done - scheduled
            last_done = max(last_done, done)

        # Both clocks are monotonic here; start_at is wall time shared by all workers.
        start = loop.time() + (start_at - time.time())
        pending: set[asyncio.Task[None]] = set()
        # More than OVERLOAD_SECONDS of offered load unanswered: the server has fallen hopelessly behind; the rest of
        # the step is not sent (each unsent request counts as an error) so the machine recovers for the next step.
        overload = max(200, int(OVERLOAD_SECONDS * rate))
        for slot in range(count):
            if len(pending) > overload:
                for unsent in range(slot, count):
                    statuses[unsent] = ABORTED
                break
            scheduled = start + slot / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(one(slot, scheduled))
            pending.add(task)
            task.add_done_callback(pending.discard)
        while pending:
            await asyncio.gather(*list(pending))
    return Share(statuses, latencies, start, last_done, 0.0)


class LoadGenerator:
    """A pool of worker processes holding the prepared requests; `step()` runs one offered rate."""

    def __init__(self, requests: list[Request], *, workers: int = 1, connections: int = 512,
                 timeout: float = 30.0, ok_status: int = 201) -> None:
        self.workers = workers
        self.connections = connections
        self.timeout = timeout
        self.ok_status = str(ok_status)
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_load_requests, initargs=(requests,))
        self.offset = 0

    def close(self) -> None:
        self.pool.shutdown()

    async def step(self, url: str, rate: float, duration: float) -> StepResult:
        """Offer `rate` requests a second for `duration` seconds; wait for every answer (or its timeout)."""
        loop = asyncio.get_running_loop()
        start_at = time.time() + 0.5
        futures = [
            loop.run_in_executor(self.pool, _fire_share, url, rate / self.workers, duration, start_at,
                                 self.offset + worker, self.workers, self.connections // self.workers, self.timeout)
            for worker in range(self.workers)
        ]
        shares: list[Share] = await asyncio.gather(*futures)
        self.offset += int(rate * duration)
        statuses = [status for share in shares for status in share.statuses]
        latencies = sorted(latency * 1000 for share in shares
                           for status, latency in zip(share.statuses, share.latencies, strict=True)
                           if status != ABORTED)
        kinds = Counter(status for status in statuses if status != self.ok_status)
        ok = len(statuses) - sum(kinds.values())
        elapsed = max(share.last_done - share.started for share in shares) if shares else duration
        return StepResult(
            offered_rps=rate, duration_s=duration, sent=len(statuses), ok=ok, errors=sum(kinds.values()),
            achieved_rps=ok / max(elapsed, duration), p50_ms=percentile(latencies, 0.50),
            p95_ms=percentile(latencies, 0.95), p99_ms=percentile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else float("nan"), error_kinds=dict(kinds),
            generator_cpu_s=sum(share.cpu_s for share in shares),
        )


@dataclass(frozen=True)
class Criteria:
    """When an offered rate counts as sustained: no errors, (nearly) all of it served, a bounded p99."""

    max_p99_ms: float = 500.0
    min_achieved_fraction: float = 0.95

    def judge(self, step: StepResult) -> StepResult:
        step.sustained = (step.errors == 0 and step.achieved_rps >= self.min_achieved_fraction * step.offered_rps
                          and step.p99_ms <= self.max_p99_ms)
        return step


Settle = Callable[[], Awaitable[None]]


async def rate_ladder(generator: LoadGenerator, url: str, fixed_rates: list[float], duration: float,
                      criteria: Criteria, settle: Settle, *, search_steps: int = 4,
                      label: str = "") -> tuple[list[StepResult], list[StepResult], float]:
    """The fixed rates, then a search for the maximum sustained rate: grow by half while passing, then bisect.

    Returns (fixed steps, search steps, highest sustained rate seen).
    """

    async def run(rate: float) -> StepResult:
        step = criteria.judge(await generator.step(url, rate, duration))
        say(f"{label} {step.summary()}")
        await settle()
        return step

    fixed = [await run(rate) for rate in fixed_rates]
    passed = [step.offered_rps for step in fixed if step.sustained]
    failed = [step.offered_rps for step in fixed if not step.sustained]
    best = max(passed, default=0.0)
    lowest_failure = min((rate for rate in failed if rate > best), default=None)
    searched: list[StepResult] = []
    for _ in range(search_steps):
        if lowest_failure is None:
            rate = best * 1.5 if best else fixed_rates[0]
        else:
            if lowest_failure / max(best, 1.0) < 1.1:
                break
            rate = (best + lowest_failure) / 2 if best else lowest_failure / 2
        rate = float(round(rate / 10) * 10)
        step = await run(rate)
        searched.append(step)
        if step.sustained:
            best = max(best, rate)
        else:
            lowest_failure = rate if lowest_failure is None else min(lowest_failure, rate)
    return fixed, searched, best
