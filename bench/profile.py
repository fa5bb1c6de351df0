"""Profile the intake hot path: py-spy samples every platform process while the load generator offers a fixed rate.

    .venv/bin/python -m bench.profile --rate 100 --seconds 15 [--py-spy /path/to/py-spy] [--no-spy]

Writes results/profile-<process>.txt: the CPU milliseconds each process spent per filing, then the functions with
the most samples (own time and time including callees), from py-spy's raw (collapsed-stack) output, which is kept in
a temporary directory for flame graphs. py-spy is not a project dependency: install it on PATH, or where it is looked
for by default (`python3 -m venv .odr/pyspy && .odr/pyspy/bin/pip install py-spy`), or anywhere and point --py-spy at
it. `--no-spy` only prints the CPU per filing (sampling itself costs the sampled processes a little).

CPU per filing is read from /proc/<pid>/stat (user + system time of the process and its children, e.g. uvicorn
workers) before the load and twice after it: when the last answer arrived ("request path", which still contains
whatever background work overlapped the load) and once every outbox is published and every consumer group has
caught up ("with events"). The broker (when the stack runs it) and PostgreSQL (every server process on the machine,
exited backends included) get rows of their own, and "all" is the sum: what one filing costs the machine.

The machines these runs land on differ several-fold in speed from one day to the next, so afterwards (unless
`--no-baseline`) the intake benchmark's bare baseline (`bench.baseline_app`: FastAPI validates the same bodies and
INSERTs one row with asyncpg) is driven at the same rate for the same time and its CPU per request (its process and
PostgreSQL) is printed beside the platform's, with the ratio: that ratio, not the milliseconds, compares runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    CONSUMER_PHONE_BASE,
    REPO_ROOT,
    RESULTS_DIR,
    asyncpg_dsn,
    build_bodies,
    consumer_tokens,
    running_platform,
    say,
)
from bench.intake import baseline_postgres, baseline_server, placeholder_demo
from bench.loadgen import LoadGenerator, Request

PROCESSES = ("gateway", "complaints", "mediation", "merchants")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or str(REPO_ROOT / ".odr/pyspy/bin/py-spy"))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--no-spy", action="store_true", help="only measure CPU per filing, without sampling")
    parser.add_argument("--no-baseline", action="store_true", help="skip the same-rate run of the bare baseline")
    parser.add_argument("--process-workers", nargs="*", default=[], metavar="NAME=N",
                        help="uvicorn workers of a platform process, e.g. complaints=2 gateway=2 (default 1 each)")
    return parser.parse_args(argv)


def worker_counts(pairs: list[str]) -> dict[str, int]:
    counts = {}
    for pair in pairs:
        name, _, count = pair.partition("=")
        if name not in PROCESSES or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--process-workers takes NAME=N with NAME one of {', '.join(PROCESSES)}: {pair!r}")
        counts[name] = int(count)
    return counts


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (uvicorn's workers when it runs more than one)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            pids += tree_pids(int(child))
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process tree so far (exited children are not counted: workers live for the run)."""
    total = 0
    for member in tree_pids(pid):
        # Fields after the parenthesised command name; utime and stime are the 14th and 15th of the whole line.
        fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL server process on the machine, including backends that have exited
    (the postmaster's reaped children): on a quiet machine the bench's databases are the only ones at work."""
    processes: dict[int, tuple[str, list[str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        processes[int(stat.parent.name)] = (name, text.rpartition(")")[2].split())
    total = 0
    for name, fields in processes.values():
        if name != "postgres":
            continue
        total += int(fields[11]) + int(fields[12])
        if processes.get(int(fields[1]), ("", []))[0] != "postgres":  # the postmaster
            total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each platform process tree, of the broker (when the stack runs it) and of PostgreSQL."""
    return {**{name: cpu_seconds(pid) for name, pid in pids.items()}, "postgresql": postgres_cpu_seconds()}


async def cases_filed(dsn: str) -> int:
    """Cases in the complaints database: a request the gateway gave up on (504) may still have been filed."""
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM complaint")
    finally:
        await connection.close()
    return count


def cpu_table(before: dict[str, float], answered: dict[str, float], settled: dict[str, float], filings: int) -> str:
    lines = [f"CPU ms per filing ({filings} cases filed, counted in the complaints database)", "",
             f"{'process':<12} {'request path':>13} {'with events':>12}"]
    for name in before:
        lines.append(f"{name:<12} {1000 * (answered[name] - before[name]) / filings:13.2f}"
                     f" {1000 * (settled[name] - before[name]) / filings:12.2f}")
    lines.append(f"{'all':<12} {1000 * (sum(answered.values()) - sum(before.values())) / filings:13.2f}"
                 f" {1000 * (sum(settled.values()) - sum(before.values())) / filings:12.2f}")
    return "\n".join(lines) + "\n"


async def baseline_cpu(rate: float, seconds: float) -> tuple[str, float]:
    """The bare baseline at the same rate: its summary line and CPU ms per request (its process and PostgreSQL)."""
    bodies = build_bodies(placeholder_demo(), [str(CONSUMER_PHONE_BASE + index) for index in range(200)], 5000)
    requests: list[Request] = [(body, {"Content-Type": "application/json", "Authorization": "Bearer x"})
                               for body in bodies]
    async with baseline_postgres() as database_url, baseline_server(database_url) as (base, pid):
        generator = LoadGenerator(requests)
        try:
            before = cpu_now({"baseline": pid})
            step = await generator.step(f"{base}/complaints", rate, seconds)
            after = cpu_now({"baseline": pid})
        finally:
            generator.close()
    return step.summary(), 1000 * (sum(after.values()) - sum(before.values())) / max(step.ok, 1)


def summarise(collapsed: Path, top: int) -> str:
    """Own-time and inclusive-time tables from collapsed stacks ("frame;frame;frame count" per line)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"{100 * count / total:6.1f}%  {frame}" for frame, count in own.most_common(top)]
    lines += ["", "including callees:"]
    lines += [f"{100 * count / total:6.1f}%  {frame}" for frame, count in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def start_spy(py_spy: str, pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--format", "raw", "--duration", str(int(seconds)),
                             "--rate", "200", "--nonblocking", "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(argv: list[str] | None = None) -> None:
    arguments = parse(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stacks = Path(tempfile.mkdtemp(prefix="odr-bench-stacks-"))
    async with running_platform("profile", worker_counts(arguments.process_workers)) as stack:
        gateway = stack.url("gateway")
        async with aiohttp.ClientSession() as session:
            tokens = await consumer_tokens(session, gateway, 200)
        bodies = build_bodies(stack.demo_document(), [phone for phone, _ in tokens], 5000)
        requests: list[Request] = [
            (body, {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index % len(tokens)][1]}"})
            for index, body in enumerate(bodies)
        ]
        pids = {name: stack.processes[name].process.pid for name in PROCESSES}
        spies = {} if arguments.no_spy else {
            name: start_spy(arguments.py_spy, pid, arguments.seconds + 2, stacks / f"{name}.collapsed")
            for name, pid in pids.items()
        }
        if stack.broker is not None:
            pids["broker"] = stack.broker.process.pid
        generator = LoadGenerator(requests)
        complaints_dsn = asyncpg_dsn(stack, "complaints")
        cases_before = await cases_filed(complaints_dsn)
        before = cpu_now(pids)
        try:
            step = await generator.step(f"{gateway}/v1/consumer/complaints", arguments.rate, arguments.seconds)
            answered = cpu_now(pids)
            say(step.summary())
        finally:
            generator.close()
        unsettled = await stack.wait_settled(within=120.0)
        if unsettled:
            say(f"not settled after 120 s: {unsettled}")
        settled = cpu_now(pids)
        filings = max(await cases_filed(complaints_dsn) - cases_before, 1)
        cpu = cpu_table(before, answered, settled, filings)
        platform_cpu = 1000 * (sum(settled.values()) - sum(before.values())) / filings
        say(cpu)
        for name, spy in spies.items():
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                # A starved py-spy falls behind its --duration; SIGINT makes it write what it has.
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            collapsed = stacks / f"{name}.collapsed"
            if collapsed.exists():
                (RESULTS_DIR / f"profile-{name}.txt").write_text(
                    f"rate {arguments.rate:g}/s for {arguments.seconds:g} s, workers "
                    f"{worker_counts(arguments.process_workers) or 'one each'}: {step.summary()}\n{cpu}\n"
                    + summarise(collapsed, arguments.top))
                say(f"wrote {RESULTS_DIR / f'profile-{name}.txt'} (stacks for a flame graph: {collapsed})")
    if not arguments.no_baseline:
        summary, per_request = await baseline_cpu(arguments.rate, arguments.seconds)
        say(f"baseline at the same rate: {summary}")
        say(f"baseline CPU ms per request (its process and PostgreSQL): {per_request:.2f}; "
            f"platform / baseline: {platform_cpu / per_request:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
