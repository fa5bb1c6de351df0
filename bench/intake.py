"""Intake: complaints per second through the gateway, open loop, against a bare FastAPI + asyncpg baseline.

    .venv/bin/python -m bench.intake            # 20 s per rate (recorded runs)
    .venv/bin/python -m bench.intake --quick    # 3 s per rate (smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import charts
from bench.common import (
    CONSUMER_PHONE_BASE,
    REPO_ROOT,
    SYSTEM_POSTGRES,
    build_bodies,
    check_quiet,
    consumer_tokens,
    record,
    running_platform,
    say,
    system_postgres_reachable,
)
from bench.loadgen import Criteria, LoadGenerator, Request, StepResult, rate_ladder

SCENARIO = "intake"
FIXED_RATES = [100.0, 250.0, 500.0, 1000.0]
BASELINE_DATABASE = "odr_bench_baseline"
BODY_COUNT = 5000


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per offered rate (default 20)")
    parser.add_argument("--quick", action="store_true", help="3 s per rate and a shorter search: a smoke run")
    parser.add_argument("--rates", type=float, nargs="+", default=FIXED_RATES, help="fixed offered rates per second")
    parser.add_argument("--consumers", type=int, default=200, help="signed-in consumers filing (default 200)")
    parser.add_argument("--workers", type=int, default=1, help="load-generator processes (default 1)")
    parser.add_argument("--max-p99-ms", type=float, default=500.0, help="p99 above this is not sustained")
    parser.add_argument("--search-steps", type=int, default=4, help="steps of the maximum search")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (development only)")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.duration = 3.0
        arguments.search_steps = min(arguments.search_steps, 2)
    return arguments


def start_uvicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log"], cwd=REPO_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)


@contextlib.asynccontextmanager
async def baseline_server(database_url: str) -> AsyncIterator[tuple[str, int]]:
    """bench.baseline_app under one uvicorn worker on a free port, with a fresh database; yields its URL and pid."""
    from servicekit import infra
    from servicekit.db import asyncpg_dsn
    from servicekit.testing.infra import drop_database, recreate_database

    await recreate_database(database_url, BASELINE_DATABASE)
    port = infra.free_port()
    env = {**os.environ, "BENCH_BASELINE_DSN": asyncpg_dsn(database_url, BASELINE_DATABASE)}
    log = Path(tempfile.mkdtemp(prefix="odr-bench-baseline-")) / "baseline.log"
    process = start_uvicorn(port, env, log)
    try:
        infra.wait_for_port("127.0.0.1", port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        await drop_database(database_url, BASELINE_DATABASE)


@contextlib.asynccontextmanager
async def baseline_postgres() -> AsyncIterator[str]:
    """The system PostgreSQL when reachable, else an embedded one for the baseline's lifetime."""
    if system_postgres_reachable():
        yield SYSTEM_POSTGRES
        return
    from servicekit import infra

    port = infra.free_port()
    server = infra.start_postgres(Path(tempfile.mkdtemp(prefix="odr-bench-pg-")), port)
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        server.stop()


def placeholder_demo() -> dict[str, Any]:
    """The baseline has no registry: merchant ids only need the same shape as the platform's."""
    return {"merchants": [{"merchant_id": str(uuid.uuid4())}, {"merchant_id": str(uuid.uuid4())}]}


async def probe(url: str, request: Request) -> None:
    """One filing before the load, so a broken body or token fails in a second with the answer shown."""
    body, headers = request
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as answer:
        if answer.status != 201:
            raise SystemExit(f"a single filing answered {answer.status}: {(await answer.text())[:2000]}")


async def measure_baseline(arguments: argparse.Namespace, criteria: Criteria) -> tuple[list[StepResult], float]:
    phones = [str(CONSUMER_PHONE_BASE + index) for index in range(arguments.consumers)]
    bodies = build_bodies(placeholder_demo(), phones, BODY_COUNT)
    requests: list[Request] = [(body, {"Content-Type": "application/json", "Authorization": "Bearer x"})
                               for body in bodies]
    async with baseline_postgres() as database_url, baseline_server(database_url) as (base, _):
        url = f"{base}/complaints"
        await probe(url, requests[0])
        generator = LoadGenerator(requests, workers=arguments.workers)
        try:
            fixed, searched, best = await rate_ladder(
                generator, url, [500.0, 1000.0], arguments.duration, criteria, lambda: asyncio.sleep(2),
                search_steps=arguments.search_steps + 1, label="baseline")
        finally:
            generator.close()
    return fixed + searched, best


async def measure_platform(arguments: argparse.Namespace, criteria: Criteria) -> tuple[list[StepResult], float]:
    async with running_platform(SCENARIO) as stack:
        gateway = stack.url("gateway")
        async with aiohttp.ClientSession() as session:
            began = time.monotonic()
            tokens = await consumer_tokens(session, gateway, arguments.consumers)
            say(f"{len(tokens)} consumers signed in (/auth/otp + /auth/token) in {time.monotonic() - began:.1f} s")
        bodies = build_bodies(stack.demo_document(), [phone for phone, _ in tokens], BODY_COUNT)
        requests: list[Request] = [
            (body, {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index % len(tokens)][1]}"})
            for index, body in enumerate(bodies)
        ]
        url = f"{gateway}/v1/consumer/complaints"
        await probe(url, requests[0])

        async def settle() -> None:
            began = time.monotonic()
            pending = await stack.wait_settled(within=180.0)
            say(f"settled in {time.monotonic() - began:.1f} s" + (f"; still pending: {pending}" if pending else ""))

        await settle()
        generator = LoadGenerator(requests, workers=arguments.workers)
        try:
            fixed, searched, best = await rate_ladder(generator, url, arguments.rates, arguments.duration, criteria,
                                                      settle, search_steps=arguments.search_steps, label="platform")
        finally:
            generator.close()
    return fixed + searched, best


def at_rate(steps: list[StepResult], rate: float) -> StepResult | None:
    return next((step for step in steps if step.offered_rps == rate), None)


def sustained_at(steps: list[StepResult], rate: float) -> StepResult | None:
    """The step that sustained the rate: the search may offer a rate again after an earlier step at it failed."""
    return next((step for step in steps if step.offered_rps == rate and step.sustained), None)


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    arguments = parse(argv)
    check_quiet()
    criteria = Criteria(max_p99_ms=arguments.max_p99_ms)
    say(f"intake: {arguments.duration:.0f} s per rate, rates {arguments.rates} then maximum search")
    baseline_steps, baseline_best = ([], 0.0) if arguments.no_baseline else await measure_baseline(arguments,
                                                                                                    criteria)
    steps, best = await measure_platform(arguments, criteria)
    best_step = sustained_at(steps, best)
    at_500 = at_rate(steps, 500.0)
    result = {
        "rps": best,
        "p50_ms": round(best_step.p50_ms, 2) if best_step else None,
        "p99_ms": round(best_step.p99_ms, 2) if best_step else None,
        "errors": best_step.errors if best_step else None,
        "baseline_rps": baseline_best,
        "ratio": round(best / baseline_best, 3) if baseline_best else None,
        "p99_ms_at_500": round(at_500.p99_ms, 2) if at_500 else None,
        "duration_s": arguments.duration,
        "quick": arguments.quick,
        "consumers": arguments.consumers,
        "generator_workers": arguments.workers,
        "sustained_rule": f"errors == 0, achieved >= {criteria.min_achieved_fraction:.0%} of offered, "
                          f"p99 <= {criteria.max_p99_ms:.0f} ms",
        "steps": [step.as_dict() for step in steps],
        "baseline_steps": [step.as_dict() for step in baseline_steps],
    }
    charts.save(SCENARIO, lambda figure: charts.rate_panels(
        figure, {"platform (gateway)": result["steps"], "baseline": result["baseline_steps"]},
        "intake: POST /v1/consumer/complaints"))
    return record(SCENARIO, result)


if __name__ == "__main__":
    from bench.common import use_uvloop

    use_uvloop()
    asyncio.run(main())
