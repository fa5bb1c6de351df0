"""Use cases of the report (举报) track: verification, the decision to open a case or not, and its clock.

Order 121 Art. 35 (with the administrative-penalty procedure): within 15 working days of receipt the bureau
verifies the lead and decides whether to open a case; with the head's approval the period is extended by 15.
The reporter's identity never leaves this service, nor does the enterprise's id on a report event (Art. 37).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enums import ActorRole, ComplaintKind, ReportStatus
from complaints.complaint.models import pii_context
from complaints.complaint.state import Actor, EventsOf, annotate, lock, transition
from complaints.deadline import service as deadline_service
from complaints.deadline.enums import DeadlineKind, DeadlineState
from complaints.publisher import Publisher
from complaints.report.schemas import ExtensionIn, ReportDecisionIn
from servicekit.auth import Principal
from servicekit.contracts.complaints_v1 import ReportStatusChanged
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.problems import Problem


async def _governed_report(session: AsyncSession, case_id: uuid.UUID, principal: Principal) -> RowMapping:
    """The locked report if the regulator governs its region; 404 otherwise."""
    case = await lock(session, case_id)
    if case is None or not principal.governs(case["region_code"]) or case["kind"] != ComplaintKind.REPORT:
        raise Problem("not-found", "No such report in the regions you govern")
    return case


def _status_changed(publisher: Publisher) -> EventsOf:
    def events(row: RowMapping) -> list[EventEnvelope]:
        return [ReportStatusChanged(
            complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
            merchant_id=None, status=row["status"], case_opened=row["case_opened"],
            changed_at=row["updated_at"],
        ).envelope(source=publisher.source)]

    return events


async def start_verification(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal,
                             publisher: Publisher) -> None:
    """received -> verifying: a regulator took the report up; its clock keeps running."""
    async with session.begin():
        case = await _governed_report(session, case_id, principal)
        await transition(session, case=case, target=ReportStatus.VERIFYING,
                         actor=Actor(ActorRole.REGULATOR, principal.sub), at=utcnow(), publisher=publisher,
                         events=_status_changed(publisher), code="verification_started",
                         note="Verification started")


async def decide(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, body: ReportDecisionIn,
                 publisher: Publisher) -> None:
    """received or verifying -> case_opened (立案) or not_opened, with the reason; the clock is met."""
    async with session.begin():
        case = await _governed_report(session, case_id, principal)
        now = utcnow()
        target = ReportStatus.CASE_OPENED if body.case_opened else ReportStatus.NOT_OPENED
        await transition(session, case=case, target=target, actor=Actor(ActorRole.REGULATOR, principal.sub), at=now,
                         publisher=publisher, events=_status_changed(publisher),
                         code="report_case_opened" if body.case_opened else "report_not_opened",
                         note=("Case opened: " if body.case_opened else "No case opened: ") + body.reason,
                         details={"text": body.reason},
                         changes={"case_opened": body.case_opened, "decided_at": now, "decided_by": principal.sub,
                                  "closed_at": now, "decision_note_enc": publisher.cipher.encrypt(
                                      body.reason, context=pii_context(case_id, "decision_note"))})
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.MET)


async def extend_clock(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, body: ExtensionIn,
                       publisher: Publisher) -> None:
    """+15 working days on the verification clock, once, with the approver and reason on the timeline."""
    async with session.begin():
        case = await _governed_report(session, case_id, principal)
        due_date = await deadline_service.extend(
            session, case_id=case_id, kind=DeadlineKind.REPORT_VERIFICATION,
            working_days=deadline_service.REPORT_EXTENSION_WORKING_DAYS, approved_by=body.approved_by,
            reason=body.reason, cipher=publisher.cipher)
        await annotate(session, case=case, actor=Actor(ActorRole.REGULATOR, principal.sub), at=utcnow(),
                       publisher=publisher, code="verification_extended",
                       note=f"Verification extended to {due_date:%Y-%m-%d}, approved by {body.approved_by}",
                       details={"due_date": due_date.isoformat(), "reason": body.reason})


async def pause_clock(session: AsyncSession, *, case_id: uuid.UUID, actor: Actor, reason: str, at: datetime,
                      publisher: Publisher) -> None:
    """Stop the verification clock at `at` (testing or appraisal time does not count, Art. 22)."""
    async with session.begin():
        case = await _report(session, case_id)
        await deadline_service.pause(session, case_id=case_id, kind=DeadlineKind.REPORT_VERIFICATION, at=at)
        await annotate(session, case=case, actor=actor, at=at, publisher=publisher,
                       code="verification_paused", note=f"Verification clock paused: {reason}",
                       details={"reason": reason})


async def resume_clock(session: AsyncSession, *, case_id: uuid.UUID, actor: Actor, at: datetime,
                       publisher: Publisher) -> date:
    """Restart the verification clock at `at`; the working days it stood still move its due date (returned)."""
    async with session.begin():
        case = await _report(session, case_id)
        due_date = await deadline_service.resume(session, case_id=case_id, kind=DeadlineKind.REPORT_VERIFICATION,
                                                 at=at)
        await annotate(session, case=case, actor=actor, at=at, publisher=publisher,
                       code="verification_resumed", note=f"Verification clock resumed; due {due_date:%Y-%m-%d}",
                       details={"due_date": due_date.isoformat()})
    return due_date


async def _report(session: AsyncSession, case_id: uuid.UUID) -> RowMapping:
    case = await lock(session, case_id)
    if case is None or case["kind"] != ComplaintKind.REPORT:
        raise Problem("not-found", "No such report")
    return case
