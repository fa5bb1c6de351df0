"""The event publisher every use case of the service stages its events with."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.events.outbox import Outbox


@dataclass(frozen=True)
class Publisher:
    """Where a use case stages its events, and the `source` they carry."""

    outbox: Outbox
    source: str
