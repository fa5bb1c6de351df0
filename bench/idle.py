"""What the platform costs while nobody uses it: CPU of every platform process, % of one core, over a quiet window.

    .venv/bin/python -m bench.idle [--settle 5] [--seconds 30]

Starts the whole platform (as every scenario does), waits `--settle` seconds for start-up work to finish, then reads
each process tree's CPU (user + system, /proc/<pid>/stat) at the start and the end of a `--seconds` window in which
no request is made. What remains is the fixed cost of the background work: the consumers' fetches and heartbeats,
the relays' and sweepers' wake-ups. The broker is the embedded Tansu; PostgreSQL counts every server process on the
machine, so it is only meaningful on a quiet machine. Prints one line per process and the sum of the platform's own
processes (without PostgreSQL); nothing is recorded in results/.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import running_platform, say
from bench.profile import PROCESSES, cpu_now


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after start-up before the window opens")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the measured window")
    return parser.parse_args(argv)


def idle_table(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    lines = [f"CPU while idle, % of one core over {seconds:.1f} s", "", f"{'process':<12} {'idle %':>7}"]
    for name in before:
        lines.append(f"{name:<12} {100 * (after[name] - before[name]) / seconds:7.2f}")
    platform = [name for name in before if name != "postgresql"]
    total = sum(after[name] - before[name] for name in platform)
    lines.append(f"{'platform':<12} {100 * total / seconds:7.2f}  (all but PostgreSQL)")
    return "\n".join(lines) + "\n"


async def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    async with running_platform("idle") as stack:
        pids = {name: stack.processes[name].process.pid for name in PROCESSES}
        if stack.broker is not None:
            pids["broker"] = stack.broker.process.pid
        await asyncio.sleep(args.settle)
        say(f"measuring {args.seconds:.0f} s of idle")
        before, began = cpu_now(pids), time.monotonic()
        await asyncio.sleep(args.seconds)
        after, seconds = cpu_now(pids), time.monotonic() - began
    print(idle_table(before, after, seconds), end="")


if __name__ == "__main__":
    asyncio.run(main())
