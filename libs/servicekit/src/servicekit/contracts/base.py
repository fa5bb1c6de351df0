"""Base class of event payloads: the event type is a class attribute, the aggregate id a property."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from servicekit.events.envelope import EventEnvelope
from servicekit.observability import current_causation_id, current_correlation_id
from servicekit.tracing import current_traceparent

# A personal value an event carries sealed (servicekit.pii.seal_for_event): AES-256-GCM with the PII key the services
# share (ODR_PII_KEY), base64, bound to a context the contract names (topic, aggregate id and field). Topics, outboxes,
# inboxes and copies of the payload hold only the ciphertext; the services that need the value open it.
SealedText = Annotated[str, Field(
    description="AES-256-GCM sealed with the shared PII key, base64 (nonce, ciphertext and tag).",
    json_schema_extra={"contentEncoding": "base64", "x-sealed": True})]


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
