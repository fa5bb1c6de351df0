"""Webhook endpoints of enterprises, the deliveries owed to them (an outbox per enterprise) and every attempt."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from merchants.database import Base
from servicekit.db import new_id, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERY_STATUS_VALUES = ", ".join(f"'{status.value}'" for status in DeliveryStatus)


class WebhookEndpoint(Base):
    """Where an enterprise wants its events; the signing secret is kept encrypted, it must be used in clear."""

    __tablename__ = "webhook_endpoint"

    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # After a secret change, deliveries are signed with both until this passes, so receivers can switch over.
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_until: Mapped[datetime | None]
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(128)))
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    failing_since: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class WebhookDelivery(Base):
    """One event owed to one enterprise; its id is the `webhook-id` the receiver deduplicates on."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint(f"status IN ({DELIVERY_STATUS_VALUES})", name="status"),
        UniqueConstraint("merchant_id", "event_id"),
        # The dispatcher's scan: due pending deliveries.
        Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    merchant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("merchant.id"))
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime]
    retry_until: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # The trace of the event that made it owed (W3C traceparent), so its attempts join that trace.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class WebhookAttempt(Base):
    """One HTTP exchange (or the reason none happened); rows are only ever inserted."""

    __tablename__ = "webhook_attempt"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_delivery.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
