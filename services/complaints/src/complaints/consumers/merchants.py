"""Group `complaints.on-merchants`: keeps the replica of ODR enrollments from merchants' events."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from complaints.enrollment import service as enrollment_service
from complaints.enrollment.models import EnrollmentStatus
from servicekit.contracts.merchants_v1 import (
    EnrollmentApproved,
    EnrollmentReinstated,
    EnrollmentRevoked,
    EnrollmentStatusChanged,
    EnrollmentSuspended,
)
from servicekit.events.envelope import EventEnvelope
from servicekit.events.inbox import Handler

GROUP = "complaints.on-merchants"


async def on_enrollment_approved(session: AsyncSession, envelope: EventEnvelope) -> None:
    """An approved enterprise becomes an active ODR target (again, if it had been revoked)."""
    event = EnrollmentApproved.model_validate(envelope.data)
    await enrollment_service.record_approval(
        session, merchant_id=event.merchant_id, name=event.name, uscc=event.uscc, region_code=event.region_code,
        sector=event.sector, at=event.approved_at,
    )


def _status_handler(contract: type[EnrollmentStatusChanged], status: EnrollmentStatus) -> Handler:
    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        event = contract.model_validate(envelope.data)
        await enrollment_service.record_status(session, merchant_id=event.merchant_id, status=status,
                                               at=event.changed_at)

    handle.__name__ = f"on_enrollment_{status.value}"
    return handle


HANDLERS: dict[str, Handler] = {
    EnrollmentApproved.event_type: on_enrollment_approved,
    EnrollmentSuspended.event_type: _status_handler(EnrollmentSuspended, EnrollmentStatus.SUSPENDED),
    EnrollmentReinstated.event_type: _status_handler(EnrollmentReinstated, EnrollmentStatus.ACTIVE),
    EnrollmentRevoked.event_type: _status_handler(EnrollmentRevoked, EnrollmentStatus.REVOKED),
}
