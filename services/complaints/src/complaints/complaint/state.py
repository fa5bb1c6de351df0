"""The case state machine: the moves allowed between statuses, and `transition()`, the only way to make one.

Complaints and reports share the case table; their statuses are disjoint, so one table holds both tracks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enums import (
    ActorRole,
    CaseStatus,
    ComplaintStatus,
    ReportStatus,
)
from complaints.complaint.models import Complaint, ComplaintEvent
from complaints.deadline.enums import DeadlineKind
from complaints.live import announce_change
from complaints.publisher import Publisher
from servicekit.db import new_id
from servicekit.events.envelope import EventEnvelope
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

EventsOf = Callable[[RowMapping], Sequence[EventEnvelope]]

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
event_table: Table = ComplaintEvent.__table__  # type: ignore[assignment]

FINAL: frozenset[CaseStatus] = frozenset({
    ComplaintStatus.CLOSED_SETTLED,
    ComplaintStatus.CLOSED_TERMINATED,
    ComplaintStatus.CLOSED_REFUSED,
    ComplaintStatus.WITHDRAWN,
    ReportStatus.CASE_OPENED,
    ReportStatus.NOT_OPENED,
})

CLOSED_BY_OUTCOME: frozenset[CaseStatus] = frozenset({
    ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.CLOSED_TERMINATED, ComplaintStatus.CLOSED_REFUSED,
})

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    # A consumer-rights service station may settle a walk-in's complaint on the spot, before any routing.
    ComplaintStatus.SUBMITTED: frozenset({ComplaintStatus.WITH_MERCHANT, ComplaintStatus.PENDING_ACCEPTANCE,
                                          ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.WITHDRAWN}),
    ComplaintStatus.WITH_MERCHANT: frozenset({ComplaintStatus.PENDING_ACCEPTANCE, ComplaintStatus.CLOSED_SETTLED,
                                              ComplaintStatus.WITHDRAWN}),
    # A regulator may also push a received complaint to the ODR enterprise (back to negotiation), or transfer it to the
    # competent bureau (Art. 13, 41), where it waits for acceptance again on a new clock. The station that filed it
    # may settle it on the spot while it waits (SETTLEABLE_AT_STATION).
    ComplaintStatus.PENDING_ACCEPTANCE: frozenset({ComplaintStatus.ACCEPTED, ComplaintStatus.CLOSED_REFUSED,
                                                   ComplaintStatus.WITH_MERCHANT, ComplaintStatus.WITHDRAWN,
                                                   ComplaintStatus.PENDING_ACCEPTANCE,
                                                   ComplaintStatus.CLOSED_SETTLED}),
    ComplaintStatus.ACCEPTED: frozenset({ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.CLOSED_TERMINATED,
                                         ComplaintStatus.WITHDRAWN}),
    ReportStatus.RECEIVED: frozenset({ReportStatus.VERIFYING, ReportStatus.CASE_OPENED, ReportStatus.NOT_OPENED}),
    ReportStatus.VERIFYING: frozenset({ReportStatus.CASE_OPENED, ReportStatus.NOT_OPENED}),
    **{status: frozenset() for status in FINAL},
}

# A transfer to the competent bureau (Art. 13, 41) is the receiving bureau's pending_acceptance entered again; only a
# complaint still waiting for the acceptance decision can be transferred (after it, the bureau has taken it on).
TRANSFERABLE: frozenset[CaseStatus] = frozenset({ComplaintStatus.PENDING_ACCEPTANCE})

# A station settles a walk-in's complaint itself only while no one else is handling it: at filing, or while it waits
# for the regulator's acceptance decision. Once an ODR enterprise negotiates it or the regulator mediates it, the
# settlement is theirs to record (mediation's agreement closes the case), so the desk is refused with 409.
SETTLEABLE_AT_STATION: frozenset[CaseStatus] = frozenset({ComplaintStatus.SUBMITTED,
                                                          ComplaintStatus.PENDING_ACCEPTANCE})

# What a timeline row says happened, for screens to word in the reader's language; add codes, never rename one.
TIMELINE_CODES: frozenset[str] = frozenset({
    "filed", "sent_to_enterprise", "sent_to_regulator", "settled_at_station", "split_from_complaint", "accepted",
    "refused", "withdrawn", "rated", "mediation_opened", "negotiation_failed", "settled", "terminated",
    "verification_started", "report_case_opened", "report_not_opened", "verification_extended",
    "verification_paused", "verification_resumed", "transferred", "issue_type_corrected",
    "filed_from_consultation", "imported", "personal_data_erased",
})
# The details a screen may show beside the code (the rest are ids for the audit trail).
TIMELINE_PARAMS: frozenset[str] = frozenset({
    "ground", "amount_fen", "stage", "case_status", "reason", "due_date", "score", "text", "merchant_name",
    "from_region", "to_region", "from", "to", "consultation_case_no", "source", "ticket_no",
})
# The details that hold what a person wrote (a refusal note, a reason): sealed with the note in `written_enc`.
WRITTEN_PARAMS: frozenset[str] = frozenset({"text", "reason"})

# The clock a status starts when a case enters it.
DEADLINE_ON_ENTRY: dict[CaseStatus, DeadlineKind] = {
    ComplaintStatus.WITH_MERCHANT: DeadlineKind.MERCHANT_NEGOTIATION,
    ComplaintStatus.PENDING_ACCEPTANCE: DeadlineKind.INITIAL_REVIEW,
    ReportStatus.RECEIVED: DeadlineKind.REPORT_VERIFICATION,
}


def timeline_details(code: str, details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The details of a timeline row: its stable `code` (TIMELINE_CODES) beside the values its wording needs."""
    assert code in TIMELINE_CODES, f"unknown timeline code {code}"
    return {**(details or {}), "code": code}


def timeline_row(cipher: PiiCipher, *, case_id: uuid.UUID, at: datetime, status: str,
                 role: ActorRole, actor_id: str | None, code: str, note: str | None,
                 details: Mapping[str, Any] | None) -> dict[str, Any]:
    """A timeline row ready to insert. The note (it quotes what staff wrote) is sealed as `note_enc`, the details a
    person wrote (WRITTEN_PARAMS) as one JSON document `written_enc`; the code and the other details stay in clear
    for the trail's queries. Associated data "complaint_event:<id>:<field>"."""
    row_id = new_id()
    clear = timeline_details(code, details)
    written = {key: clear.pop(key) for key in sorted(WRITTEN_PARAMS & clear.keys())}

    def sealed(field: str, value: str | None) -> bytes | None:
        return cipher.encrypt(value, context=f"complaint_event:{row_id}:{field}") if value is not None else None

    return {"id": row_id, "complaint_id": case_id, "at": at, "status": status,
            "actor_role": role.value, "actor_id": actor_id, "note_enc": sealed("note", note),
            "written_enc": sealed("written", json.dumps(written, ensure_ascii=False) if written else None),
            "details": clear}


def opened_timeline(row: Mapping[str, Any], cipher: PiiCipher) -> tuple[str | None, dict[str, Any]]:
    """The note and the whole details of a timeline row, the sealed parts opened."""
    def opened(field: str) -> str | None:
        sealed = row[f"{field}_enc"]
        return cipher.decrypt(sealed, context=f"complaint_event:{row['id']}:{field}") if sealed is not None else None

    written = opened("written")
    return opened("note"), {**(row["details"] or {}), **(json.loads(written) if written else {})}


def status_of(value: str) -> CaseStatus:
    """The enum member of a stored status value."""
    return ComplaintStatus(value) if value in ComplaintStatus._value2member_map_ else ReportStatus(value)


def ensure_allowed(current: CaseStatus, target: CaseStatus) -> CaseStatus:
    """`target`, or a 409 problem when the table does not allow the move."""
    if target not in TRANSITIONS[current]:
        raise Problem("conflict", f"A case cannot go from {current.value} to {target.value}",
                      current_status=current.value)
    return target


def ensure_transferable(current: CaseStatus) -> None:
    """Nothing, or a 409 problem when a case in `current` cannot be transferred to another bureau."""
    if current not in TRANSFERABLE:
        raise Problem("conflict", f"A case that is {current.value} cannot be transferred",
                      current_status=current.value)
    ensure_allowed(current, ComplaintStatus.PENDING_ACCEPTANCE)


def ensure_settleable_at_station(current: CaseStatus) -> None:
    """Nothing, or a 409 problem when the station may not settle a case in `current` itself."""
    if current not in SETTLEABLE_AT_STATION:
        raise Problem("conflict", f"A case that is {current.value} cannot be settled at the station",
                      current_status=current.value)
    ensure_allowed(current, ComplaintStatus.CLOSED_SETTLED)


@dataclass(frozen=True)
class Actor:
    """Who made a move: recorded on the timeline; `id` is the token subject (None for the system)."""

    role: ActorRole
    id: str | None = None


SYSTEM = Actor(ActorRole.SYSTEM)


async def lock(session: AsyncSession, case_id: uuid.UUID) -> RowMapping | None:
    """The case row, locked for this transaction (moves of one case are serialised), or None."""
    return (await session.execute(
        select(complaint_table).where(complaint_table.c.id == case_id).with_for_update()
    )).mappings().one_or_none()


async def transition(
    session: AsyncSession,
    *,
    case: RowMapping,
    target: CaseStatus,
    actor: Actor,
    at: datetime,
    publisher: Publisher,
    events: EventsOf,
    code: str,
    note: str | None = None,
    details: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> RowMapping:
    """Move a locked case to `target`: status, `changes` and version, a timeline row and its events, or 409.

    Runs inside the caller's transaction and never commits; `events` builds the envelopes from the updated row.
    `code` names what happened for screens to word in their reader's language (`timeline_details`); `note` is the
    English wording kept for the audit trail.
    """
    ensure_allowed(status_of(case["status"]), target)
    updated = (await session.execute(
        complaint_table.update()
        .where(complaint_table.c.id == case["id"], complaint_table.c.version == case["version"])
        .values(status=target.value, updated_at=at, version=complaint_table.c.version + 1, **(changes or {}))
        .returning(*complaint_table.c)
    )).mappings().one()
    announce_change(session, case["id"])
    await session.execute(event_table.insert().values(timeline_row(
        publisher.cipher, case_id=case["id"], at=at, status=target.value, role=actor.role, actor_id=actor.id, code=code,
        note=note, details=details)))
    await publisher.outbox.add(session, *events(updated))
    return updated


async def annotate(
    session: AsyncSession,
    *,
    case: RowMapping,
    actor: Actor,
    at: datetime,
    publisher: Publisher,
    code: str,
    note: str,
    events: EventsOf = lambda _: (),
    details: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> RowMapping:
    """Record something that happened to a locked case without moving it (a rating, a clock paused or extended).

    Like `transition`: a timeline row at the current status, a new version (so ETags change) and its events.
    """
    updated = (await session.execute(
        complaint_table.update()
        .where(complaint_table.c.id == case["id"], complaint_table.c.version == case["version"])
        .values(updated_at=at, version=complaint_table.c.version + 1, **(changes or {}))
        .returning(*complaint_table.c)
    )).mappings().one()
    announce_change(session, case["id"])
    await session.execute(event_table.insert().values(timeline_row(
        publisher.cipher, case_id=case["id"], at=at, status=case["status"], role=actor.role, actor_id=actor.id,
        code=code, note=note, details=details)))
    await publisher.outbox.add(session, *events(updated))
    return updated
