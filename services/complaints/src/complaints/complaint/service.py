"""Use cases of the complaint domain; each owns exactly one transaction and never leaves it half done."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import ColumnElement, RowMapping, String, Table, Uuid, and_, bindparam, literal_column, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from complaints import idempotency
from complaints.complaint import case_numbers
from complaints.complaint.enterprise import answer_fields
from complaints.complaint.enums import (
    ActorRole,
    CaseStatus,
    Channel,
    ComplaintKind,
    ComplaintStatus,
    IssueType,
    ReportStatus,
)
from complaints.complaint.flags import FlagRules, flags_of
from complaints.complaint.models import COMPLAINANT_FIELDS, Complaint, ComplaintEvent, pii_context
from complaints.complaint.schemas import (
    AgentRead,
    ComplainantRead,
    ComplaintCreate,
    ComplaintList,
    ComplaintRead,
    ComplaintSummary,
    IdentityCheck,
    IdentityRead,
    JointRead,
    PartiesRead,
    PurchaseRead,
    RatingRead,
    RefusalRead,
    ReportDecisionRead,
    RequestRead,
    RespondentRead,
    SettledOnSpot,
    TimelineEntry,
)
from complaints.complaint.state import (
    DEADLINE_ON_ENTRY,
    TIMELINE_PARAMS,
    Actor,
    ensure_allowed,
    opened_timeline,
    status_of,
    timeline_row,
)
from complaints.deadline import service as deadline_service
from complaints.deadline.enums import TICKING, DeadlineKind, DeadlineState
from complaints.deadline.models import Deadline
from complaints.deadline.schemas import DeadlineRead
from complaints.deadline.service import NegotiationPeriods
from complaints.enrollment.models import EnrollmentStatus
from complaints.enrollment.service import enrolled_merchant as enrolled_merchant_table
from complaints.evidence import service as evidence_service
from complaints.evidence.schemas import EvidenceRead
from complaints.live import announce_change
from complaints.publisher import Publisher
from servicekit.auth import Principal
from servicekit.calendar import local_date, working_days_after
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintClosed,
    ComplaintFiled,
    ComplaintRouted,
    DeadlineBreached,
    RouteTarget,
)
from servicekit.db import autocommit_connection, new_id, utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.pagination import decode_cursor, page_of
from servicekit.pii import PiiCipher, mask_address, mask_id_number, mask_name, mask_phone
from servicekit.problems import Problem

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
event_table: Table = ComplaintEvent.__table__  # type: ignore[assignment]
deadline_table: Table = Deadline.__table__  # type: ignore[assignment]

PII_FIELDS = ("name", "phone", "address")


@dataclass(frozen=True)
class Route:
    """Where a new complaint goes: the ODR enterprise itself, or the regulator of the region."""

    status: ComplaintStatus
    region_code: str
    merchant_id: uuid.UUID | None
    respondent_name: str
    respondent_address: str | None
    respondent_uscc: str | None
    respondent_region_code: str | None

    @property
    def target(self) -> RouteTarget:
        return RouteTarget.MERCHANT if self.status is ComplaintStatus.WITH_MERCHANT else RouteTarget.REGULATOR


@dataclass(frozen=True)
class Filing:
    """Who files, with what, and where the events and ciphertexts go."""

    consumer_id: str
    body: ComplaintCreate
    idempotency_key: str | None
    cipher: PiiCipher
    publisher: Publisher
    negotiation_periods: NegotiationPeriods
    filer: Actor | None = None
    station_id: uuid.UUID | None = None
    # The identity document station staff checked on the spot; its number is sealed like the complainant's ID number.
    identity: IdentityCheck | None = None
    # Whose unattached uploads `evidence_ids` name: the consumer's own, unless staff uploaded them at the desk.
    evidence_owner: str | None = None
    settled_on_spot: SettledOnSpot | None = None
    # A case transferred from 12315 or 12345: "<source>:<ticket>", unique across cases.
    source_ticket: str | None = None
    # Added to the timeline's "submitted" entry (where the case came from), and that entry's code (TIMELINE_CODES).
    submitted_details: Mapping[str, Any] | None = None
    submitted_code: str = "filed"
    # Run in the filing's transaction, given the case row before it is written (foreign keys to it are checked at
    # commit): a failure files nothing.
    within: Callable[[AsyncSession, Mapping[str, Any]], Awaitable[None]] | None = None

    @property
    def submitter(self) -> Actor:
        """Who the timeline says submitted: the consumer, unless staff filed for them."""
        return self.filer or Actor(ActorRole.CONSUMER, self.consumer_id)


async def file_complaint(db: AsyncSession | AsyncEngine, filing: Filing) -> idempotency.StoredResponse:
    """Store a case (and a report split off it), route it, start its clock and stage its events: one transaction.

    It reads once (the enterprise and a stored answer to the key, `_looked_up`; nothing to read when it names no
    enterprise and has no key) and writes once (`_file`'s last statement, `case_numbers.write_filing`). When nothing
    else is written between (no uploads to attach, no `within`), the write is a statement in a transaction of its
    own: no BEGIN and COMMIT round trips around it.

    `db` is the caller's session, or the engine when the caller holds none (the consumer's filing endpoint): a
    filing that writes alone then runs on a pooled connection without any session (a session's transaction
    machinery cost the process about as much CPU as the statement itself), and one that needs a transaction, or the
    replay after a concurrent twin, opens a session of its own."""
    if filing.body.kind is not ComplaintKind.REPORT and filing.body.complainant is None:
        raise Problem("validation-error", "A complaint needs the complainant's real identity (Art. 10)",
                      errors=[{"field": "body.complainant", "message": "required unless kind is report",
                               "code": "missing"}])
    # Only a keyed request is ever compared with a stored one.
    body_hash = idempotency.request_hash(filing.body) if filing.idempotency_key is not None else None
    try:
        if filing.within is None and not filing.body.evidence_ids:
            async with _writing_alone(db) as connection:
                return await _file(connection, filing, body_hash)
        async with _session_of(db) as session, session.begin():
            return await _file(session, filing, body_hash)
    except IntegrityError as exc:
        # A concurrent request with the same key committed first: answer as it did.
        if filing.idempotency_key is None or body_hash is None or "pk_idempotency_key" not in str(exc.orig):
            raise
    async with _session_of(db) as session, session.begin():
        stored = await idempotency.replay(session, filing.cipher, principal_sub=filing.consumer_id,
                                          key=filing.idempotency_key, body_hash=body_hash)
    if stored is None:
        raise Problem("conflict", "A concurrent request with this Idempotency-Key did not complete")
    return _in_field_order(stored)


@asynccontextmanager
async def _writing_alone(db: AsyncSession | AsyncEngine) -> AsyncIterator[AsyncSession | AsyncConnection]:
    """Where a filing that writes alone runs its statements, each its own transaction (autocommit)."""
    if isinstance(db, AsyncEngine):
        async with db.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
        return
    async with db.begin():
        await autocommit_connection(db)
        yield db


@asynccontextmanager
async def _session_of(db: AsyncSession | AsyncEngine) -> AsyncIterator[AsyncSession]:
    if isinstance(db, AsyncEngine):
        async with AsyncSession(db, expire_on_commit=False) as session:
            yield session
        return
    yield db


def _in_field_order(response: idempotency.StoredResponse) -> idempotency.StoredResponse:
    """JSONB keeps no key order; a replay should read exactly like the first answer, so re-serialise it."""
    body = ComplaintRead.model_validate(response.body).model_dump(mode="json")
    return idempotency.StoredResponse(status=response.status, body=body)


@dataclass
class _Staged:
    """The case row and timeline rows of one new case, before they are written; the row's case number is
    provisional until `case_numbers.write_filing` writes the row with its number."""

    row: dict[str, Any]
    timeline: list[dict[str, Any]]
    prefix: str


# The enterprise named as respondent and the stored answer to the Idempotency-Key, in one read (either may be
# missing: the outer joins then give nulls).
_LOOKUP = (
    select(enrolled_merchant_table, *idempotency.STORED)
    .select_from(
        select(literal_column("1")).subquery("filing")
        .outerjoin(enrolled_merchant_table,
                   enrolled_merchant_table.c.merchant_id == bindparam("merchant_id", type_=Uuid))
        .outerjoin(idempotency.idempotency_key,
                   and_(idempotency.idempotency_key.c.principal_sub == bindparam("principal_sub", type_=String),
                        idempotency.idempotency_key.c.key == bindparam("key", type_=String))))
)


@dataclass(frozen=True)
class _LookedUp:
    merchant: RowMapping | None
    answer: idempotency.StoredResponse | None


async def _looked_up(db: AsyncSession | AsyncConnection, filing: Filing, body_hash: str | None) -> _LookedUp:
    if filing.body.respondent.merchant_id is None and filing.idempotency_key is None:
        return _LookedUp(merchant=None, answer=None)
    found = (await db.execute(_LOOKUP, {
        "merchant_id": filing.body.respondent.merchant_id, "principal_sub": filing.consumer_id,
        "key": filing.idempotency_key})).mappings().one()
    answer = None
    if filing.idempotency_key is not None and body_hash is not None and found["request_hash"] is not None:
        answer = await idempotency.answer(db, filing.cipher, found, principal_sub=filing.consumer_id,
                                          key=filing.idempotency_key, body_hash=body_hash)
    return _LookedUp(merchant=found if found["merchant_id"] is not None else None, answer=answer)


class _SealedInHand(PiiCipher):
    """A filing's cipher that keeps what it sealed in hand: the answer is built from the rows sealed a moment before,
    and opening them again would only decrypt what is already known (a tenth of the answer's CPU). Anything it did
    not seal is opened by the service's cipher; it derives no keys of its own."""

    def __init__(self, cipher: PiiCipher) -> None:
        self._cipher = cipher
        self._plaintexts: dict[tuple[bytes, str], str] = {}

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        sealed = self._cipher.encrypt(plaintext, context=context)
        self._plaintexts[sealed, context] = plaintext
        return sealed

    def decrypt(self, blob: bytes, *, context: str) -> str:
        plaintext = self._plaintexts.get((blob, context))
        return plaintext if plaintext is not None else self._cipher.decrypt(blob, context=context)

    def blind_index(self, value: str) -> bytes:
        return self._cipher.blind_index(value)


async def _file(db: AsyncSession | AsyncConnection, filing: Filing,
                body_hash: str | None) -> idempotency.StoredResponse:
    found = await _looked_up(db, filing, body_hash)
    if found.answer is not None:
        return _in_field_order(found.answer)
    filing = replace(filing, cipher=_SealedInHand(filing.cipher))
    body = filing.body
    route = _route(body, found.merchant)
    now = utcnow()
    # Art. 9: a submission with both is split, each part handled on its own track, the two linked.
    complaint_id = new_id() if body.kind in (ComplaintKind.COMPLAINT, ComplaintKind.BOTH) else None
    report_id = new_id() if body.kind in (ComplaintKind.REPORT, ComplaintKind.BOTH) else None
    staged: list[_Staged] = []
    if complaint_id is not None:
        staged.append(_stage_complaint(filing, route, complaint_id, report_id, now))
    if report_id is not None:
        staged.append(_stage_report(filing, route, report_id, complaint_id, now))
    if filing.within is not None:
        assert isinstance(db, AsyncSession), "a filing with work of its own runs in a session"
        await filing.within(db, staged[0].row)
    clocks = {case.row["id"]: _clock(case.row, route, filing.negotiation_periods, now) for case in staged}
    for case in staged:
        # What the queue trigger would compute from the clock, which the same statement writes (migration 0021).
        clock = clocks[case.row["id"]]
        case.row["queue_due_at"] = clock["due_at"] if clock["state"] == DeadlineState.RUNNING.value else None
    answered = staged[0]
    attachments = await evidence_service.attach(db, filing.cipher, case_id=answered.row["id"],
                                                consumer_id=filing.evidence_owner or filing.consumer_id,
                                                evidence_ids=body.evidence_ids,
                                                shared_ids=body.shared_evidence_ids)
    detail = _detail(answered.row, filing.cipher, [clocks[answered.row["id"]]], answered.timeline, attachments)
    response = idempotency.StoredResponse(status=201, body=detail.model_dump(mode="json"))
    answer = None
    if filing.idempotency_key is not None and body_hash is not None:
        answer = case_numbers.Answer(
            principal_sub=filing.consumer_id, key=filing.idempotency_key, request_hash=body_hash,
            status=response.status, at=now, case_id=answered.row["id"],
            sealed=idempotency.seal(filing.cipher, principal_sub=filing.consumer_id, key=filing.idempotency_key,
                                    body=response.body))
    events = {case.row["id"]: _events(case, route, filing, clocks[case.row["id"]]["due_date"], attachments)
              + ([_closed_event(case.row, filing.publisher.source)] if case.row["closed_at"] is not None else [])
              for case in staged}
    outbox = filing.publisher.outbox
    messaging = filing.publisher.messaging
    messages = [message for case_events in events.values()
                for message in messaging.messages(*case_events)] if messaging else []
    numbers = await case_numbers.write_filing(db, case_numbers.StagedFiling(
        cases=[(case.prefix, case.row) for case in staged],
        timeline=[entry for case in staged for entry in case.timeline],
        clocks=list(clocks.values()),
        events={case_id: outbox.rows(*case_events) for case_id, case_events in events.items()},
        messages=messages, message_table=messaging.message_table if messaging else None,
        message_columns=messaging.message_columns if messaging else (), notify_channel=outbox.notify_channel,
        day=local_date(now), answer=answer))
    response.body["case_no"] = numbers[answered.row["id"]]
    return response


def _clock(row: Mapping[str, Any], route: Route, negotiation_periods: NegotiationPeriods,
           at: datetime) -> dict[str, Any]:
    """The clock the case's route starts (a negotiation runs its region's period); a case settled on the spot met it
    the moment it was filed."""
    settled_on_spot = row["status"] == ComplaintStatus.CLOSED_SETTLED
    kind = DEADLINE_ON_ENTRY[route.status if settled_on_spot else status_of(row["status"])]
    working_days = (negotiation_periods.for_region(row["region_code"])
                    if kind is DeadlineKind.MERCHANT_NEGOTIATION else None)
    clock = deadline_service.clock_row(case_id=row["id"], at=at, kind=kind, working_days=working_days)
    if not settled_on_spot:
        return clock
    return {**clock, "state": DeadlineState.MET.value, "met_at": at}


def _closed_event(row: Mapping[str, Any], source: str) -> EventEnvelope:
    return ComplaintClosed(
        complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
        merchant_id=row["merchant_id"], status=row["status"], recovered_fen=row["recovered_fen"],
        closed_at=row["closed_at"],
        settled_by_station=row["station_id"] if row["station_settled_at"] is not None else None,
    ).envelope(source=source)


def _stage_complaint(filing: Filing, route: Route, complaint_id: uuid.UUID, report_id: uuid.UUID | None,
                     now: datetime) -> _Staged:
    if filing.settled_on_spot is not None:
        return _stage_settled_on_spot(filing, filing.settled_on_spot, route, complaint_id, now)
    status = ensure_allowed(ComplaintStatus.SUBMITTED, route.status)
    row = _case_row(filing, route, case_id=complaint_id, kind=ComplaintKind.COMPLAINT, status=status,
                    linked_case_id=report_id, now=now)
    timeline = [
        _submitted_row(filing, complaint_id, now),
        _timeline_row(filing.cipher, complaint_id, now, status, ActorRole.SYSTEM, None,
                      "sent_to_enterprise" if route.target is RouteTarget.MERCHANT else "sent_to_regulator",
                      _routing_note(route),
                      {"target": route.target.value, "region_code": route.region_code,
                       "merchant_id": str(route.merchant_id) if route.merchant_id else None,
                       "merchant_name": route.respondent_name if route.target is RouteTarget.MERCHANT else None}),
    ]
    return _Staged(row=row, timeline=timeline, prefix=case_numbers.COMPLAINT_PREFIX)


def _stage_settled_on_spot(filing: Filing, settled: SettledOnSpot, route: Route, complaint_id: uuid.UUID,
                           now: datetime) -> _Staged:
    """A complaint the station settled there and then: closed settled at once, never routed to anyone."""
    status = ensure_allowed(ComplaintStatus.SUBMITTED, ComplaintStatus.CLOSED_SETTLED)
    row = _case_row(filing, route, case_id=complaint_id, kind=ComplaintKind.COMPLAINT, status=status,
                    linked_case_id=None, now=now)
    row.update(recovered_fen=settled.amount_fen, closed_at=now, routed_at=None, station_settled_at=now)
    submitter = filing.submitter
    timeline = [
        _submitted_row(filing, complaint_id, now),
        _timeline_row(filing.cipher, complaint_id, now, status, submitter.role, submitter.id, "settled_at_station",
                      f"Settled at the station: {settled.note}",
                      {"amount_fen": settled.amount_fen, "station_id": str(filing.station_id), "text": settled.note}),
    ]
    return _Staged(row=row, timeline=timeline, prefix=case_numbers.COMPLAINT_PREFIX)


def _submitted_row(filing: Filing, case_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    submitter = filing.submitter
    details: dict[str, Any] = {"channel": filing.body.channel.value}
    if filing.station_id is not None:
        details["station_id"] = str(filing.station_id)
    if filing.submitted_details:
        details.update(filing.submitted_details)
    return _timeline_row(filing.cipher, case_id, at, ComplaintStatus.SUBMITTED, submitter.role, submitter.id,
                         filing.submitted_code, None, details)


def _stage_report(filing: Filing, route: Route, report_id: uuid.UUID, complaint_id: uuid.UUID | None,
                  now: datetime) -> _Staged:
    row = _case_row(filing, route, case_id=report_id, kind=ComplaintKind.REPORT, status=ReportStatus.RECEIVED,
                    linked_case_id=complaint_id, now=now)
    note = "Split from a submission that is also a complaint (Art. 9)" if complaint_id else None
    # The reporter's subject is kept on the row (so they can follow it) but never on the timeline others may see.
    details: dict[str, Any] = {"channel": filing.body.channel.value}
    if complaint_id is None and filing.submitted_details:
        details.update(filing.submitted_details)
    # A report filed alone carries where it came from, like a complaint's "submitted" entry.
    code = "split_from_complaint" if complaint_id else filing.submitted_code
    timeline = [_timeline_row(filing.cipher, report_id, now, ReportStatus.RECEIVED, filing.submitter.role, None,
                              code, note, details)]
    return _Staged(row=row, timeline=timeline, prefix=case_numbers.REPORT_PREFIX)


def _parties_json(body: ComplaintCreate) -> str | None:
    if body.agent is None and body.joint is None:
        return None
    parties = PartiesRead.model_validate({"agent": body.agent.model_dump() if body.agent else None,
                                          "joint": body.joint.model_dump() if body.joint else None})
    return parties.model_dump_json()


def _timeline_row(cipher: PiiCipher, case_id: uuid.UUID, at: datetime, status: CaseStatus, role: ActorRole,
                  actor_id: str | None, code: str, note: str | None, details: dict[str, Any] | None) -> dict[str, Any]:
    return timeline_row(cipher, case_id=case_id, at=at, status=status.value, role=role, actor_id=actor_id, code=code,
                        note=note, details=details)


def _case_row(filing: Filing, route: Route, *, case_id: uuid.UUID, kind: ComplaintKind, status: CaseStatus,
              linked_case_id: uuid.UUID | None, now: datetime) -> dict[str, Any]:
    body = filing.body
    complainant = body.complainant
    cipher = filing.cipher
    is_report = kind is ComplaintKind.REPORT
    identity = filing.identity
    id_number = identity.document_number if identity is not None else complainant.id_number if complainant else None

    def sealed(field: str, value: str | None) -> bytes | None:
        return cipher.encrypt(value, context=pii_context(case_id, field)) if value is not None else None

    return {
        "id": case_id,
        "case_no": case_numbers.provisional(case_id),
        "kind": kind.value,
        "status": status.value,
        "region_code": route.region_code,
        "consumer_id": filing.consumer_id,
        "green_channel": body.green_channel and not is_report,
        "complainant_name_enc": sealed("name", complainant.name if complainant else None),
        "complainant_phone_enc": sealed("phone", complainant.phone if complainant else None),
        "complainant_address_enc": sealed("address", complainant.address if complainant else None),
        "complainant_id_number_enc": sealed("id_number", id_number),
        "phone_index": cipher.blind_index(complainant.phone) if complainant else None,
        "address_index": cipher.blind_index(complainant.address) if complainant and complainant.address else None,
        "parties_enc": sealed("parties", _parties_json(body)),
        "has_agent": body.agent is not None,
        "consumer_count": 1 + (len(body.joint.consumers) if body.joint else 0),
        "disclosure_consent": body.disclosure_consent,
        "online_seller": body.respondent.online.model_dump(mode="json") if body.respondent.online else None,
        "linked_case_id": linked_case_id,
        "merchant_id": route.merchant_id,
        "respondent_name": route.respondent_name,
        "respondent_address": route.respondent_address,
        "respondent_uscc": route.respondent_uscc,
        "respondent_region_code": route.respondent_region_code,
        "request_type": body.request.type.value,
        "request_amount_fen": body.request.amount_fen,
        "facts_enc": sealed("facts", body.facts),
        "purchase_date": body.purchase.date if body.purchase else None,
        "purchase_amount_fen": body.purchase.amount_fen if body.purchase else None,
        "purchase_order_no": body.purchase.order_no if body.purchase else None,
        "sector": body.sector,
        "category": body.category,
        "issue_type": body.issue_type.value,
        "channel": body.channel.value,
        "station_id": filing.station_id,
        "identity_document": identity.document_type.value if identity is not None else None,
        "identity_checked_at": now if identity is not None else None,
        "identity_checked_by": filing.submitter.id if identity is not None else None,
        "station_settled_at": None,
        # A submission split in two keeps the ticket on the part that answers it.
        "source_ticket": filing.source_ticket if kind is body.kind or kind is ComplaintKind.COMPLAINT else None,
        "mediation_case_id": None,
        "recovered_fen": 0,
        "filed_at": now,
        "routed_at": None if is_report else now,
        "accepted_at": None,
        "closed_at": None,
        "withdrawn_at": None,
        "decided_at": None,
        "decided_by": None,
        "decision_note_enc": None,
        "refusal_ground": None,
        "other_routes": None,
        "case_opened": None,
        "rating_score": None,
        "rating_text_enc": None,
        "rated_at": None,
        "updated_at": now,
        "version": 1,
    }
def _route(body: ComplaintCreate, merchant: Mapping[Any, Any] | None) -> Route:
    """Green channel to an active ODR enterprise goes to it; everything else to the regulator of its region.

    Jurisdiction (Art. 13): a registered merchant's region; else the business's region, or for a seller on a platform
    the region of the address its store displays, else the platform operator's region.
    """
    respondent = body.respondent
    if merchant is not None:
        goes_to_merchant = body.green_channel and merchant["status"] == EnrollmentStatus.ACTIVE.value
        return Route(
            status=ComplaintStatus.WITH_MERCHANT if goes_to_merchant else ComplaintStatus.PENDING_ACCEPTANCE,
            region_code=merchant["region_code"],
            merchant_id=merchant["merchant_id"],
            respondent_name=merchant["name"],
            respondent_address=respondent.address,
            respondent_uscc=merchant["uscc"],
            respondent_region_code=merchant["region_code"],
        )
    jurisdiction = respondent.jurisdiction
    if respondent.name is None or jurisdiction is None:
        raise Problem("validation-error", "The merchant is not an ODR enterprise we know of",
                      errors=[{"field": "body.respondent.merchant_id",
                               "message": "unknown merchant; give name and region_code of the business instead",
                               "code": "unknown_merchant"}])
    return Route(
        status=ComplaintStatus.PENDING_ACCEPTANCE,
        region_code=jurisdiction,
        merchant_id=None,
        respondent_name=respondent.name,
        respondent_address=respondent.address,
        respondent_uscc=respondent.uscc,
        respondent_region_code=respondent.region_code,
    )


def _routing_note(route: Route) -> str:
    if route.target is RouteTarget.MERCHANT:
        return f"Sent to the ODR enterprise {route.respondent_name} for negotiation"
    return f"Sent to the market regulator of region {route.region_code} for acceptance review"


def _events(case: _Staged, route: Route, filing: Filing, due_date: date,
            attachments: Sequence[Mapping[Any, Any]]) -> list[EventEnvelope]:
    """filed for every case; routed only for a complaint.

    A report's events carry neither the reporter nor the enterprise's id, so no consumer that serves enterprises can
    pass a report, or its progress, on to the business reported (Art. 37).
    """
    row = case.row
    is_report = row["kind"] == ComplaintKind.REPORT
    filed = ComplaintFiled(
        complaint_id=row["id"], case_no=row["case_no"], kind=row["kind"], region_code=row["region_code"],
        merchant_id=None if is_report else row["merchant_id"], respondent_name=row["respondent_name"],
        sector=row["sector"],
        category=row["category"], issue_type=row["issue_type"], channel=row["channel"],
        request_type=row["request_type"],
        request_amount_fen=row["request_amount_fen"], green_channel=row["green_channel"], filed_at=row["filed_at"],
    )
    if is_report or filing.body.complainant is None or row["closed_at"] is not None:
        return [filed.envelope(source=filing.publisher.source)]
    routed = ComplaintRouted(
        complaint_id=row["id"], case_no=row["case_no"], target=route.target, merchant_id=row["merchant_id"],
        region_code=row["region_code"], consumer_id=row["consumer_id"],
        complainant=ComplainantForMerchant.sealed(filing.cipher, complaint_id=row["id"],
                                                  name=filing.body.complainant.name,
                                                  phone=filing.body.complainant.phone),
        request_type=row["request_type"], request_amount_fen=row["request_amount_fen"],
        facts_sealed=ComplaintRouted.seal_facts(filing.cipher, complaint_id=row["id"], facts=filing.body.facts),
        due_date=due_date, routed_at=row["routed_at"], **answer_fields(row, attachments),
    )
    return [filed.envelope(source=filing.publisher.source), routed.envelope(source=filing.publisher.source)]


def _opened(row: Mapping[Any, Any], cipher: PiiCipher, field: str) -> str | None:
    sealed = row[f"complainant_{field}_enc"] if field in COMPLAINANT_FIELDS else row[f"{field}_enc"]
    return cipher.decrypt(sealed, context=pii_context(row["id"], field)) if sealed is not None else None


def _complainant_of(row: Mapping[Any, Any], cipher: PiiCipher) -> ComplainantRead | None:
    """The decrypted identity, or None for an anonymous report."""
    name = _opened(row, cipher, "name")
    if name is None:
        return None
    phone = _opened(row, cipher, "phone")
    assert phone is not None, "a complainant always has a phone"
    return ComplainantRead(name=name, phone=phone, address=_opened(row, cipher, "address"),
                           id_number=_opened(row, cipher, "id_number"))


def _parties_of(row: Mapping[Any, Any], cipher: PiiCipher) -> PartiesRead | None:
    document = _opened(row, cipher, "parties")
    return PartiesRead.model_validate_json(document) if document is not None else None


def _detail(row: Mapping[Any, Any], cipher: PiiCipher, deadlines: Sequence[Mapping[Any, Any]],
            timeline: Sequence[Mapping[Any, Any]], attachments: Sequence[Mapping[Any, Any]]) -> ComplaintRead:
    return ComplaintRead(
        id=row["id"], case_no=row["case_no"], kind=row["kind"], status=row["status"],
        linked_case_id=row["linked_case_id"], mediation_case_id=row["mediation_case_id"],
        recovered_fen=row["recovered_fen"], region_code=row["region_code"], green_channel=row["green_channel"],
        complainant=_complainant_of(row, cipher), parties=_parties_of(row, cipher),
        identity=(IdentityRead(document_type=row["identity_document"], checked_at=row["identity_checked_at"])
                  if row.get("identity_document") else None),
        respondent=RespondentRead(merchant_id=row["merchant_id"], name=row["respondent_name"],
                                  address=row["respondent_address"], uscc=row["respondent_uscc"],
                                  region_code=row["respondent_region_code"], online=row["online_seller"]),
        request=RequestRead(type=row["request_type"], amount_fen=row["request_amount_fen"]),
        purchase=(PurchaseRead(date=row["purchase_date"], amount_fen=row["purchase_amount_fen"],
                               order_no=row["purchase_order_no"]) if row["purchase_date"] else None),
        facts=cipher.decrypt(row["facts_enc"], context=pii_context(row["id"], "facts")),
        sector=row["sector"], category=row["category"], issue_type=row["issue_type"],
        channel=row["channel"], transferred_from=row.get("transferred_from"),
        deadlines=[_deadline(d, today=local_date(utcnow())) for d in deadlines],
        timeline=[_timeline_entry(e, cipher) for e in timeline],
        evidence=[EvidenceRead.model_validate(dict(a)) for a in attachments],
        disclosure_consent=row["disclosure_consent"],
        refusal=(RefusalRead(ground=row["refusal_ground"], note=_opened(row, cipher, "decision_note") or "",
                             other_routes=row["other_routes"] or "") if row["refusal_ground"] else None),
        report_decision=(ReportDecisionRead(case_opened=row["case_opened"],
                                            reason=_opened(row, cipher, "decision_note") or "")
                         if row["case_opened"] is not None else None),
        rating=(RatingRead(score=row["rating_score"], text=_opened(row, cipher, "rating_text"),
                           rated_at=row["rated_at"])
                if row["rating_score"] is not None else None),
        filed_at=row["filed_at"], routed_at=row["routed_at"], closed_at=row["closed_at"],
        personal_data_erased_at=row.get("personal_data_erased_at"), updated_at=row["updated_at"],
    )


def _deadline(row: Mapping[Any, Any], *, today: date) -> DeadlineRead:
    ticking = row["state"] in {state.value for state in TICKING}
    return DeadlineRead(kind=row["kind"], due_date=row["due_date"], state=row["state"], due_at=row["due_at"],
                        working_days_left=working_days_after(today, row["due_date"]) if ticking else None)


def _timeline_entry(row: Mapping[Any, Any], cipher: PiiCipher) -> TimelineEntry:
    note, details = opened_timeline(row, cipher)
    return TimelineEntry(at=row["at"], status=row["status"], actor_role=row["actor_role"], note=note,
                         code=details.get("code"),
                         params={key: value for key, value in details.items()
                                 if key in TIMELINE_PARAMS and value is not None})


@dataclass(frozen=True)
class Versioned:
    """A complaint detail and the version its ETag is made of."""

    detail: ComplaintRead
    version: int


async def get_for_consumer(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str,
                           cipher: PiiCipher) -> Versioned:
    """The case if this consumer filed it; 404 otherwise, so ids of others' cases reveal nothing."""
    row = (await session.execute(
        select(complaint_table).where(complaint_table.c.id == complaint_id,
                                      complaint_table.c.consumer_id == consumer_id)
    )).mappings().one_or_none()
    if row is None:
        raise Problem("not-found", "No such complaint")
    return await versioned(session, row, cipher)


async def get_for_regulator(session: AsyncSession, *, complaint_id: uuid.UUID, principal: Principal,
                            cipher: PiiCipher, rules: FlagRules) -> Versioned:
    """The case with anti-abuse flags and its parties masked (王*, 138****8000) if the caller governs its region;
    404 otherwise. Full personal data only through a logged reveal with a purpose (access/service.py)."""
    row = await governed_row(session, complaint_id=complaint_id, principal=principal)
    found = await versioned(session, row, cipher)
    found.detail.complainant = masked_complainant(found.detail.complainant)
    found.detail.parties = masked_parties(found.detail.parties)
    found.detail.flags = await flags_of(session, row, rules)
    return found


async def governed_row(session: AsyncSession, *, complaint_id: uuid.UUID, principal: Principal) -> RowMapping:
    """The complaint row if the caller governs its region; 404 otherwise, so other regions' ids reveal nothing."""
    row = (await session.execute(
        select(complaint_table).where(complaint_table.c.id == complaint_id))).mappings().one_or_none()
    if row is None or not principal.governs(row["region_code"]):
        raise Problem("not-found", "No such complaint in the regions you govern")
    return row


def personal_data_of(row: Mapping[Any, Any], cipher: PiiCipher) -> tuple[ComplainantRead | None, PartiesRead | None]:
    """The decrypted complainant and the agent and joint complainants, as the case holds them."""
    return _complainant_of(row, cipher), _parties_of(row, cipher)


def masked_complainant(complainant: ComplainantRead | None) -> ComplainantRead | None:
    return _masked(complainant) if complainant is not None else None


def _masked(complainant: ComplainantRead) -> ComplainantRead:
    return ComplainantRead(
        name=mask_name(complainant.name), phone=mask_phone(complainant.phone),
        address=mask_address(complainant.address) if complainant.address is not None else None,
        id_number=mask_id_number(complainant.id_number) if complainant.id_number is not None else None)


def masked_agent(agent: AgentRead | None) -> AgentRead | None:
    if agent is None:
        return None
    return agent.model_copy(update={"name": mask_name(agent.name), "phone": mask_phone(agent.phone),
                                    "id_number": mask_id_number(agent.id_number)})


def masked_joint(joint: JointRead | None) -> JointRead | None:
    if joint is None:
        return None
    return joint.model_copy(update={"consumers": [_masked(c) for c in joint.consumers]})


def masked_parties(parties: PartiesRead | None) -> PartiesRead | None:
    if parties is None:
        return None
    return PartiesRead(agent=masked_agent(parties.agent), joint=masked_joint(parties.joint))


async def versioned(session: AsyncSession, row: RowMapping, cipher: PiiCipher) -> Versioned:
    """The case detail as stored (deadlines, timeline, evidence) and its version; no check of who may read it."""
    deadlines = await deadline_service.of_case(session, row["id"])
    timeline = (await session.execute(
        select(event_table).where(event_table.c.complaint_id == row["id"])
        .order_by(event_table.c.at, event_table.c.id)
    )).mappings().all()
    attachments = await evidence_service.of_case(session, cipher, row["id"])
    return Versioned(detail=_detail(row, cipher, deadlines, timeline, attachments), version=row["version"])


async def version_of(session: AsyncSession, *, complaint_id: uuid.UUID, consumer_id: str) -> int | None:
    """Just the version of the consumer's complaint, to answer a conditional GET without building the body."""
    return (await session.execute(
        select(complaint_table.c.version).where(complaint_table.c.id == complaint_id,
                                                complaint_table.c.consumer_id == consumer_id)
    )).scalar_one_or_none()


async def list_complaints(session: AsyncSession, *, conditions: Sequence[ColumnElement[bool]], cursor: str | None,
                          limit: int) -> ComplaintList:
    """Newest first (ids are UUIDv7, so id order is filing order); the cursor is the last id seen."""
    statement = select(complaint_table).where(*conditions)
    if cursor is not None:
        statement = statement.where(complaint_table.c.id < decode_cursor(cursor))
    rows = (await session.execute(
        statement.order_by(complaint_table.c.id.desc()).limit(limit + 1)
    )).mappings().all()
    page, next_cursor = page_of(rows, limit, lambda row: row["id"])
    return ComplaintList(items=[ComplaintSummary.model_validate(dict(row)) for row in page], next_cursor=next_cursor)


def station_conditions(station_id: uuid.UUID) -> list[ColumnElement[bool]]:
    """Station staff list what their station filed."""
    return [complaint_table.c.station_id == station_id]


def consumer_conditions(consumer_id: str) -> list[ColumnElement[bool]]:
    """A consumer lists only what they filed."""
    return [complaint_table.c.consumer_id == consumer_id]


@dataclass(frozen=True)
class QueueFilter:
    """What a regulator's queue shows: cases of a region (and those below it) after optional filters."""

    region_prefix: str
    statuses: tuple[CaseStatus, ...] = ()
    kind: ComplaintKind | None = None
    overdue_at: datetime | None = None
    due_before: datetime | None = None
    sector: str | None = None
    issue_type: IssueType | None = None
    merchant_id: uuid.UUID | None = None
    business: str | None = None
    channel: Channel | None = None
    case_no: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = complaint_table.c
        # A county is one code: equality lets the queue index give its open cases in due order, without a sort.
        in_region = (c.region_code == self.region_prefix if len(self.region_prefix) == 6
                     else c.region_code.startswith(self.region_prefix, autoescape=True))
        conditions: list[ColumnElement[bool]] = [in_region]
        if len(self.statuses) == 1:
            conditions.append(c.status == self.statuses[0].value)
        elif self.statuses:
            conditions.append(c.status.in_([status.value for status in self.statuses]))
        if self.kind is not None:
            conditions.append(c.kind == self.kind.value)
        if self.overdue_at is not None:
            conditions.append(c.queue_due_at <= self.overdue_at)
        if self.due_before is not None:
            conditions.append(c.queue_due_at <= self.due_before)
        if self.sector is not None:
            conditions.append(c.sector == self.sector)
        if self.issue_type is not None:
            conditions.append(c.issue_type == self.issue_type.value)
        if self.merchant_id is not None:
            conditions.append(c.merchant_id == self.merchant_id)
        if self.business is not None:
            conditions.append(c.respondent_name.contains(self.business, autoescape=True))
        if self.channel is not None:
            conditions.append(c.channel == self.channel.value)
        if self.case_no is not None:
            conditions.append(c.case_no.startswith(self.case_no.upper(), autoescape=True))
        return conditions

    @property
    def needs_a_clock(self) -> bool:
        return self.overdue_at is not None or self.due_before is not None


async def list_queue(session: AsyncSession, *, queue: QueueFilter, cursor: str | None, limit: int) -> ComplaintList:
    """The regulator's queue: cases with a clock of their current stage by due date (earliest first, overdue ones
    on top), then the cases without one, newest first. Two index range reads (migration 0010), each keyset-paginated;
    the cursor names the last case seen and which of the two parts it was in."""
    c = complaint_table.c
    after_due, after_id = _decode_queue_cursor(cursor) if cursor is not None else (None, None)
    rows: list[RowMapping] = []
    in_clocked_part = cursor is None or after_due is not None
    if in_clocked_part:
        statement = select(complaint_table).where(*queue.conditions(), c.queue_due_at.is_not(None))
        if after_due is not None and after_id is not None:
            statement = statement.where(tuple_(c.queue_due_at, c.id) > tuple_(after_due, after_id))
        rows = list((await session.execute(
            statement.order_by(c.queue_due_at, c.id).limit(limit + 1))).mappings().all())
    if len(rows) <= limit and not queue.needs_a_clock:
        statement = select(complaint_table).where(*queue.conditions(), c.queue_due_at.is_(None))
        if not in_clocked_part and after_id is not None:
            statement = statement.where(c.id < after_id)
        rows += (await session.execute(
            statement.order_by(c.id.desc()).limit(limit + 1 - len(rows)))).mappings().all()
    page = rows[:limit]
    items = [ComplaintSummary.model_validate(dict(row)) for row in page]
    next_cursor = _encode_queue_cursor(page[-1]["queue_due_at"], page[-1]["id"]) if len(rows) > limit else None
    return ComplaintList(items=items, next_cursor=next_cursor)


def _encode_queue_cursor(due_at: datetime | None, last_id: uuid.UUID) -> str:
    raw = f"{due_at.isoformat() if due_at is not None else ''}|{last_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_queue_cursor(cursor: str) -> tuple[datetime | None, uuid.UUID]:
    try:
        due, _, last_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        due_at = datetime.fromisoformat(due) if due else None
        if due_at is not None and due_at.tzinfo is None:
            raise ValueError("naive")
        return due_at, uuid.UUID(last_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Problem("validation-error", "The cursor is not one this service gave out",
                      errors=[{"field": "query.cursor", "message": "invalid cursor",
                               "code": "cursor_invalid"}]) from exc


DEADLINE_BREACHES = Counter("odr_deadline_breaches_total", "Statutory clocks that ran out, by clock kind", ["kind"])


async def sweep_breaches(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, publisher: Publisher,
                         batch_size: int = 500) -> int:
    """Mark ticking clocks due before `now` as breached and emit deadline_breached events; returns how many. Each batch
    is a transaction of its own. It lives with the case, not in deadline/, because a breach locks and versions the case
    and is announced as the complaint's event.

    A report's breach names no enterprise (Art. 37: the business reported must not learn of the report's progress).

    Rows locked by another sweeper or by a transition in flight are skipped (`SKIP LOCKED`) and picked up by the
    next sweep, so any number of replicas may sweep at once and a clock is breached (and announced) exactly once.
    """
    breached = 0
    while True:
        async with sessionmaker() as session, session.begin():
            due = (await session.execute(
                select(deadline_table.c.id, deadline_table.c.complaint_id, deadline_table.c.kind,
                       deadline_table.c.due_date, complaint_table.c.region_code, complaint_table.c.merchant_id,
                       complaint_table.c.kind.label("case_kind"))
                .join(complaint_table, complaint_table.c.id == deadline_table.c.complaint_id)
                .where(deadline_table.c.state.in_([state.value for state in TICKING]), deadline_table.c.due_at <= now)
                .order_by(deadline_table.c.due_at)
                .limit(batch_size)
                .with_for_update(of=[deadline_table, complaint_table], skip_locked=True)
            )).mappings().all()
            if not due:
                return breached
            await session.execute(deadline_table.update().where(deadline_table.c.id.in_([row["id"] for row in due]))
                                  .values(state=DeadlineState.BREACHED.value, breached_at=now))
            # The detail view shows clock states, so its ETag must change.
            breached_cases = {row["complaint_id"] for row in due}
            await session.execute(
                complaint_table.update()
                .where(complaint_table.c.id.in_(breached_cases))
                .values(version=complaint_table.c.version + 1, updated_at=now))
            for case_id in breached_cases:
                announce_change(session, case_id)
            await publisher.outbox.add(session, *(
                DeadlineBreached(complaint_id=row["complaint_id"], region_code=row["region_code"],
                                 merchant_id=None if row["case_kind"] == ComplaintKind.REPORT else row["merchant_id"],
                                 kind=row["kind"], due_date=row["due_date"], breached_at=now,
                                 ).envelope(source=publisher.source)
                for row in due))
            breached += len(due)
        # Counted once the batch is committed, so a rolled-back batch counts nothing.
        for row in due:
            DEADLINE_BREACHES.labels(row["kind"]).inc()
        if len(due) < batch_size:
            return breached

