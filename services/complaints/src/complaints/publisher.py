"""The event publisher every use case of the service stages its events with, and the cipher its timeline rows are
sealed with."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher


@dataclass(frozen=True)
class Publisher:
    """Where a use case stages its events, the `source` they carry, and the cipher that seals what people wrote on
    the timeline rows written with them."""

    outbox: Outbox
    source: str
    cipher: PiiCipher
