"""The event publisher every use case of the service stages its events with, and the cipher its timeline rows are
sealed with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Table

from servicekit.events.envelope import EventEnvelope
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher


@runtime_checkable
class StagesMessages(Protocol):
    """An outbox whose events may owe the complainant a text message, staged with them (notifications'
    `NotifyingOutbox`). A filing writes everything in one statement, the messages too, so it asks the outbox for
    their rows and where they go rather than importing the notifications domain, which reads complaints."""

    message_table: Table
    message_columns: tuple[str, ...]

    def messages(self, *events: EventEnvelope) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Publisher:
    """Where a use case stages its events, the `source` they carry, and the cipher that seals what people wrote on
    the timeline rows written with them."""

    outbox: Outbox
    source: str
    cipher: PiiCipher

    @cached_property
    def messaging(self) -> StagesMessages | None:
        """The outbox when it stages text messages with its events; checked once, since an isinstance check against
        a runtime protocol inspects the class every time (a few percent of a filing's CPU)."""
        return self.outbox if isinstance(self.outbox, StagesMessages) else None
