"""In-process token buckets, one per key (client address, phone number): enough to slow abuse of one process's
unauthenticated endpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request

from servicekit.problems import Problem


class TokenBuckets:
    """`rate` tokens per second up to `burst`; each request takes one.

    At most `max_keys` buckets are kept, least recently used forgotten first: a forgotten bucket is a full one, and
    the least recently used is the likeliest to have refilled already. The bound holds even when every bucket is
    partly drained (many addresses at once), where sweeping only the full ones would let memory grow without end.
    """

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        # Insertion order is recency order: a bucket is removed and put back at the end whenever it is used.
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, updated = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return 0.0 if allowed else (1.0 - tokens) / self.rate

    def take_or_refuse(self, key: str, detail: str) -> None:
        """Take a token or raise a 429 problem telling when to retry."""
        wait = self.take(key)
        if wait > 0:
            raise Problem("rate-limited", detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})


def forwarded_client_address(request: Request) -> str:
    """The caller's address in a service behind the gateway, which replaces X-Forwarded-For with the one address it
    saw; the last entry is the one the nearest proxy added, so a client cannot choose it."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.client.host if request.client else "unknown"
