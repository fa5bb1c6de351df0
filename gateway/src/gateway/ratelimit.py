"""In-memory token buckets, one per key (client address, phone number); enough for a single gateway process."""

from __future__ import annotations

import math
import time

from servicekit.problems import Problem


class TokenBuckets:
    """`rate` tokens per second up to `burst`; each request takes one. Full buckets are forgotten to bound memory."""

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, *, now: float | None = None) -> float:
        """Take a token for `key`: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, updated = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - updated) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return 0.0

    def take_or_refuse(self, key: str, detail: str) -> None:
        """Take a token or raise a 429 problem telling when to retry."""
        wait = self.take(key)
        if wait > 0:
            raise Problem("rate-limited", detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def _forget_full(self, now: float) -> None:
        self._buckets = {
            key: (tokens, updated)
            for key, (tokens, updated) in self._buckets.items()
            if tokens + (now - updated) * self.rate < self.burst
        }
