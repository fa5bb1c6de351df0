"""In-process token buckets per client address: enough to slow abuse of the unauthenticated endpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request

from servicekit.problems import Problem


class TokenBuckets:
    """`rate` tokens per second up to `burst`; each request takes one. Full buckets are forgotten to bound memory."""

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._buckets = {name: (left, at) for name, (left, at) in self._buckets.items()
                             if left + (now - at) * self.rate < self.burst}
        return 0.0

    def take_or_refuse(self, key: str, detail: str) -> None:
        """Take a token or raise a 429 problem telling when to retry."""
        wait = self.take(key)
        if wait > 0:
            raise Problem("rate-limited", detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})


def client_address(request: Request) -> str:
    """The caller's address: the gateway replaces X-Forwarded-For with the one address it saw."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.client.host if request.client else "unknown"
