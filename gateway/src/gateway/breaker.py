"""A circuit breaker per upstream service: after consecutive failed exchanges the gateway stops sending it requests
for a while and answers 503 with Retry-After at once; then one trial request per period finds out whether it is back.

Only failures of the exchange itself count (refused or reset connections, timeouts): a service that answers, even
with a 5xx problem, is up, and its answer is passed on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from prometheus_client import Gauge

from servicekit.observability import get_logger

CIRCUIT_OPEN = Gauge("odr_gateway_circuit_open", "1 while the gateway's circuit to a service is open", ["service"])

log = get_logger("gateway.breaker")


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed: everything passes, failures are counted. Open: nothing passes until `open_seconds` have gone by.
    Half-open: one trial passes per period; its success closes the circuit, its failure opens it again."""

    def __init__(self, service: str, *, failure_threshold: int, open_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.failure_threshold = failure_threshold
        self.open_seconds = open_seconds
        self.clock = clock
        self.state = CircuitState.CLOSED
        self.consecutive_failures = 0
        self._next_trial_at = 0.0
        CIRCUIT_OPEN.labels(service).set(0)

    def refusal(self) -> int | None:
        """None when a request may go to the service now; else the seconds to tell the client to wait."""
        if self.state is CircuitState.CLOSED:
            return None
        now = self.clock()
        if now >= self._next_trial_at:
            # This request is the trial; the next one waits another period unless the trial closes the circuit.
            self.state = CircuitState.HALF_OPEN
            self._next_trial_at = now + self.open_seconds
            return None
        return max(1, math.ceil(self._next_trial_at - now))

    def succeeded(self) -> None:
        if self.state is not CircuitState.CLOSED:
            log.info("circuit closed: the service answers again", service=self.service)
            CIRCUIT_OPEN.labels(self.service).set(0)
        self.state = CircuitState.CLOSED
        self.consecutive_failures = 0

    def failed(self) -> None:
        self.consecutive_failures += 1
        if self.state is CircuitState.HALF_OPEN or (
                self.state is CircuitState.CLOSED and self.consecutive_failures >= self.failure_threshold):
            if self.state is CircuitState.CLOSED:
                log.warning("circuit opened: the service keeps failing", service=self.service,
                            failures=self.consecutive_failures, for_seconds=self.open_seconds)
            self.state = CircuitState.OPEN
            self._next_trial_at = self.clock() + self.open_seconds
            CIRCUIT_OPEN.labels(self.service).set(1)
