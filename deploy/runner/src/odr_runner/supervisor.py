"""Keeps the runner's children alive: a child that dies is restarted after a backoff; one that keeps dying is given up.

The supervisor only decides when; `Stack.restart` knows how (a service or the gateway is started again, PostgreSQL
is started on the same data directory and recovers from its WAL, the in-memory broker brings the whole stack round
with it). Restarts are scheduled rather than slept on, so one child's backoff never delays another's restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from odr_runner.stack import Report, Stack, StackError

CHECK_INTERVAL = 0.5


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential backoff between restarts; `give_up_after` crashes within `window` seconds and the child is left
    down (it would only crash again, and restarting it in a loop hides why)."""

    backoff_base: float = 0.5
    backoff_max: float = 15.0
    give_up_after: int = 5
    window: float = 60.0

    def backoff(self, recent_crashes: int) -> float:
        return float(min(self.backoff_base * 2 ** max(recent_crashes - 1, 0), self.backoff_max))


@dataclass
class _ChildRecord:
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None
    given_up: bool = False
    restarts: int = 0


class Supervisor:
    """One `check()` per tick: notice exits, schedule restarts, perform those that are due."""

    def __init__(self, stack: Stack, *, policy: RestartPolicy | None = None, report: Report | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stack = stack
        self.policy = policy or RestartPolicy()
        self.report = report or stack.report
        self.clock = clock
        self.records: dict[str, _ChildRecord] = {}

    def given_up(self) -> list[str]:
        return sorted(name for name, record in self.records.items() if record.given_up)

    def restarts(self, name: str) -> int:
        record = self.records.get(name)
        return record.restarts if record else 0

    async def run(self, stop_requested: asyncio.Event) -> None:
        while not stop_requested.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_requested.wait(), CHECK_INTERVAL)
            if not stop_requested.is_set():
                await self.check()

    async def check(self) -> None:
        now = self.clock()
        for exited in self.stack.unexpected_exits():
            self._crashed(exited.name, exited.returncode, now)
        for name, record in sorted(self.records.items()):
            if record.restart_at is not None and record.restart_at <= self.clock():
                record.restart_at = None
                await self._restart(name, record)

    def _crashed(self, name: str, returncode: int | None, now: float) -> None:
        record = self.records.setdefault(name, _ChildRecord())
        if record.given_up:
            return
        record.crashes.append(now)
        while record.crashes and record.crashes[0] < now - self.policy.window:
            record.crashes.popleft()
        where = self.stack.log_of(name)
        if len(record.crashes) >= self.policy.give_up_after:
            record.given_up = True
            record.restart_at = None
            self.report(f"{name} crashed {len(record.crashes)} times within {self.policy.window:.0f} s; "
                        f"giving up on it (see {where}); the rest keeps running")
            return
        delay = self.policy.backoff(len(record.crashes))
        record.restart_at = now + delay
        code = "" if returncode is None else f" with code {returncode}"
        self.report(f"{name} exited unexpectedly{code}; restarting it in {delay:g} s (see {where})")

    async def _restart(self, name: str, record: _ChildRecord) -> None:
        try:
            await self.stack.restart(name)
        except StackError as error:
            self.report(f"restarting {name} failed: {error}")
            self._crashed(name, None, self.clock())
            return
        record.restarts += 1
        self.report(f"{name} restarted (restart {record.restarts})")
