"""Base class of event payloads: the event type is a class attribute, the aggregate id a property."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from servicekit.events.envelope import EventEnvelope
from servicekit.observability import current_causation_id, current_correlation_id
from servicekit.tracing import current_traceparent


class EventContract(BaseModel):
    """An event payload; consumers ignore unknown fields so producers may add fields within a version."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    aggregate_field: ClassVar[str]

    def envelope(
        self,
        *,
        source: str,
        correlationid: str | None = None,
        causationid: str | None = None,
        traceparent: str | None = None,
    ) -> EventEnvelope:
        data: dict[str, Any] = self.model_dump(mode="json")
        return EventEnvelope(
            source=source,
            type=self.event_type,
            subject=str(data[self.aggregate_field]),
            correlationid=correlationid or current_correlation_id(),
            causationid=causationid or current_causation_id(),
            traceparent=traceparent or current_traceparent(),
            data=data,
        )
