"""Events of the merchants service (topic ``merchants.enrollment``): ODR status and notices to the enterprise."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from servicekit.contracts.base import EventContract


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
    reason: str
    changed_at: datetime


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
