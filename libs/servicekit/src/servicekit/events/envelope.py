"""CloudEvents envelope in Kafka binary content mode (``ce_*`` headers, JSON value, key = subject)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from servicekit.db import new_id, utcnow

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
_HEADER_ATTRIBUTES = ("id", "source", "type", "specversion", "time", "subject",
                      "correlationid", "causationid", "traceparent")


class EventEnvelope(BaseModel):
    """One event as it travels: CloudEvents attributes plus tracing, and the contract payload as `data`."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=new_id)
    source: str
    type: str
    specversion: str = SPECVERSION
    time: datetime = Field(default_factory=utcnow)
    subject: str
    datacontenttype: str = CONTENT_TYPE
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @property
    def topic(self) -> str:
        return topic_for(self.type)

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        headers = [("content-type", CONTENT_TYPE.encode())]
        for name in _HEADER_ATTRIBUTES:
            value = getattr(self, name)
            if value is None:
                continue
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            headers.append((f"ce_{name}", text.encode()))
        return headers

    def kafka_value(self) -> bytes:
        return orjson.dumps(self.data)

    @classmethod
    def from_kafka(cls, headers: Sequence[tuple[str, bytes]], value: bytes) -> EventEnvelope:
        attributes: dict[str, Any] = {}
        for name, raw in headers:
            if name.startswith("ce_"):
                attributes[name[3:]] = raw.decode()
        return cls(**attributes, data=orjson.loads(value))


def topic_for(event_type: str) -> str:
    """``complaints.complaint.filed.v1`` travels on topic ``complaints.complaint``."""
    service, aggregate, *_ = event_type.split(".")
    return f"{service}.{aggregate}"
