"""Profile the intake hot path: py-spy samples every platform process while the load generator offers a fixed rate.

    .venv/bin/python -m bench.profile --rate 100 --seconds 15 [--py-spy /path/to/py-spy]

Writes results/profile-<process>.txt: the functions with the most samples (own time and time including callees),
from py-spy's raw (collapsed-stack) output, which is kept in a temporary directory for flame graphs. py-spy is not
a project dependency: install it anywhere (`python3 -m venv /tmp/pyspy && /tmp/pyspy/bin/pip install py-spy`) and
point --py-spy at it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import aiohttp

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS_DIR, build_bodies, consumer_tokens, running_platform, say
from bench.loadgen import LoadGenerator, Request

PROCESSES = ("gateway", "complaints", "mediation", "merchants")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")
    parser.add_argument("--top", type=int, default=40)
    return parser.parse_args(argv)


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
    async with running_platform("profile") as stack:
        gateway = stack.url("gateway")
        async with aiohttp.ClientSession() as session:
            tokens = await consumer_tokens(session, gateway, 200)
        bodies = build_bodies(stack.demo_document(), [phone for phone, _ in tokens], 5000)
        requests: list[Request] = [
            (body, {"Content-Type": "application/json", "Authorization": f"Bearer {tokens[index % len(tokens)][1]}"})
            for index, body in enumerate(bodies)
        ]
        spies = {name: start_spy(arguments.py_spy, stack.processes[name].process.pid, arguments.seconds + 2,
                                 stacks / f"{name}.collapsed")
                 for name in PROCESSES}
        generator = LoadGenerator(requests)
        try:
            step = await generator.step(f"{gateway}/v1/consumer/complaints", arguments.rate, arguments.seconds)
            say(step.summary())
        finally:
            generator.close()
        for name, spy in spies.items():
            spy.wait(60)
            collapsed = stacks / f"{name}.collapsed"
            if collapsed.exists():
                (RESULTS_DIR / f"profile-{name}.txt").write_text(summarise(collapsed, arguments.top))
                say(f"wrote {RESULTS_DIR / f'profile-{name}.txt'} (stacks for a flame graph: {collapsed})")


if __name__ == "__main__":
    asyncio.run(main())
