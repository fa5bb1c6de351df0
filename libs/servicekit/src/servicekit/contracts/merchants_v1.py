"""Events of the merchants service (topic ``merchants.enrollment``): ODR status and notices to the enterprise."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import Field

from servicekit.contracts.base import EventContract, SealedText
from servicekit.pii import PiiCipher, seal_for_event


class EnrollmentApproved(EventContract):
    event_type: ClassVar[str] = "merchants.enrollment.approved.v1"
    aggregate_field: ClassVar[str] = "merchant_id"

    merchant_id: uuid.UUID
    name: str
    uscc: str
    region_code: str
    sector: str
    approved_at: datetime


class EnrollmentStatusChanged(EventContract):
    """Base of suspension, reinstatement and revocation: same fields, different meaning."""

    aggregate_field: ClassVar[str] = "merchant_id"

    merchant_id: uuid.UUID
    reason: str | None = Field(default=None,
                               description="Only in events published before the seal: the reason in clear.")
    changed_at: datetime
    # The regulator's reason, sealed with the shared PII key (it may name the people it concerns).
    reason_sealed: SealedText | None = None

    @staticmethod
    def reason_context(merchant_id: uuid.UUID) -> str:
        return f"merchants.enrollment:{merchant_id}:reason"

    @classmethod
    def seal_reason(cls, cipher: PiiCipher, *, merchant_id: uuid.UUID, reason: str) -> str:
        return seal_for_event(cipher, reason, context=cls.reason_context(merchant_id))


class EnrollmentSuspended(EnrollmentStatusChanged):
    event_type: ClassVar[str] = "merchants.enrollment.suspended.v1"


class EnrollmentReinstated(EnrollmentStatusChanged):
    event_type: ClassVar[str] = "merchants.enrollment.reinstated.v1"


class EnrollmentRevoked(EnrollmentStatusChanged):
    event_type: ClassVar[str] = "merchants.enrollment.revoked.v1"


class WebhookDisabled(EventContract):
    """The notice that an enterprise's webhook endpoint was switched off after failing for too long."""

    event_type: ClassVar[str] = "merchants.enrollment.webhook_disabled.v1"
    aggregate_field: ClassVar[str] = "merchant_id"

    merchant_id: uuid.UUID
    url: str
    consecutive_failures: int
    failing_since: datetime
    disabled_at: datetime


CONTRACTS: tuple[type[EventContract], ...] = (
    EnrollmentApproved,
    EnrollmentSuspended,
    EnrollmentReinstated,
    EnrollmentRevoked,
    WebhookDisabled,
)
