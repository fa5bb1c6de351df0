"""HTTP endpoints of complaints: consumers file and follow their own, regulators list those of their regions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint import decisions, enterprise
from complaints.complaint import service as complaint_service
from complaints.complaint.dependencies import Rules
from complaints.complaint.enums import ActorRole, CaseStatus, Channel, ComplaintKind, IssueType
from complaints.complaint.flags import FlagRules
from complaints.complaint.schemas import (
    ComplaintCreate,
    ComplaintList,
    ComplaintRead,
    HotlineComplaintCreate,
    IssueTypeIn,
    RatingIn,
    RefuseIn,
    ReportCreate,
    RouteToMerchantIn,
    TransferIn,
    TransferRead,
)
from complaints.complaint.state import Actor
from complaints.dependencies import (
    Changes,
    Events,
    Periods,
    Store,
    negotiation_periods_of,
    publisher_of,
)
from complaints.evidence.router import stored_file
from complaints.idempotency import StoredResponse, validate_key
from complaints.live import RESYNC
from servicekit import regions
from servicekit.app import get_runtime
from servicekit.auth import (
    Audience,
    BureauPrincipal,
    ConsumerPrincipal,
    MerchantPrincipal,
    Principal,
    RegulatorPrincipal,
    Role,
    consumer_subject,
    require,
    require_internal,
)
from servicekit.calendar import end_of_day
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pagination import PageSize
from servicekit.pii import PiiCipher
from servicekit.problems import Problem, problem_responses
from servicekit.sse import EventStream, ServerSentEvent

consumer_router = APIRouter(prefix="/v1/consumer/complaints", tags=["consumer: complaints"])
reports_router = APIRouter(prefix="/v1/consumer/reports", tags=["consumer: complaints"])
regulator_router = APIRouter(prefix="/v1/regulator/complaints", tags=["regulator: complaints"])
merchant_router = APIRouter(prefix="/v1/merchant/complaints", tags=["merchant: evidence"])
hotline_router = APIRouter(prefix="/v1/regulator/hotline-complaints", tags=["regulator: hotline"])
internal_router = APIRouter(prefix="/internal/v1/case-changes", tags=["internal"],
                           dependencies=[Depends(require_internal)])

HotlinePrincipal = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.HOTLINE))]

STREAM_PING_SECONDS = 15


@consumer_router.post("", status_code=201, response_model=ComplaintRead, summary="File a complaint")
async def file_complaint(
    body: ComplaintCreate,
    principal: ConsumerPrincipal,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """File a complaint (投诉), a report (举报) or both; a retry with the same Idempotency-Key and body returns the
    first response.

    Routing: an active ODR enterprise chosen with `green_channel` gets the complaint first (with_merchant, 10 working
    days to negotiate); anything else waits for the regulator of its region (pending_acceptance, 7 working days).
    Jurisdiction follows Art. 13 (registered merchant's region; else the business's region; for a seller on a
    platform, its displayed address's region, else the platform operator's). `kind=both` is split (Art. 9): the
    answer is the complaint, whose `linked_case_id` names the report. Sector and category codes come from the lists
    in `complaints.catalog`; `evidence_ids` are uploads from `POST /v1/consumer/evidence`.
    """
    # The busiest endpoint takes what it needs from the runtime itself rather than through five dependencies (each
    # costs FastAPI's resolver more than the lookup), and hands the use case the engine, not a session: a filing
    # that writes alone needs none.
    runtime = get_runtime(request)
    filing = complaint_service.Filing(
        consumer_id=principal.sub,
        body=body,
        idempotency_key=validate_key(idempotency_key) if idempotency_key is not None else None,
        cipher=runtime.cipher,
        publisher=publisher_of(runtime),
        negotiation_periods=negotiation_periods_of(runtime),
    )
    stored = await complaint_service.file_complaint(runtime.engine, filing)
    return _filed(stored, consumer_router.prefix)


@reports_router.post("", status_code=201, response_model=ComplaintRead, summary="File a report (举报)")
async def file_report(
    body: ReportCreate,
    principal: ConsumerPrincipal,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """A lead that a business breaks market rules; `complainant` may be left out to report anonymously. The report
    gets a JB- case number and a 15-working-day verification clock; the business never learns who reported."""
    return await file_complaint(body, principal, request, idempotency_key)


def _filed(stored: StoredResponse, prefix: str) -> Response:
    """The answer to a filing: the body as JSONResponse would render it (compact UTF-8 JSON), by orjson."""
    return Response(orjson.dumps(stored.body), status_code=stored.status, media_type="application/json",
                    headers={"Location": f"{prefix}/{stored.body['id']}"})


@hotline_router.post("", status_code=201, response_model=ComplaintRead,
                     summary="File a caller's complaint or report at the 12315 hotline",
                     responses={403: {"description": "The token is not a hotline operator's"},
                                422: {"description": "A field is not valid"}})
async def file_hotline_complaint(
    body: HotlineComplaintCreate,
    principal: HotlinePrincipal,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    publisher: Events,
) -> Response:
    """A hotline operator files for a caller who identified themselves; the case belongs to the caller's own login
    (their phone's subject), so they can follow it in the app. Channel `hotline` is kept for the statistics; the
    timeline names the operator (actor `hotline`). Routed as any complaint."""
    assert body.complainant is not None, "HotlineComplaintCreate requires a complainant"
    filing = complaint_service.Filing(
        consumer_id=consumer_subject(body.complainant.phone, runtime.settings.subject_key.get_secret_value()),
        body=ComplaintCreate.model_validate(body.model_dump() | {"channel": Channel.HOTLINE}),
        idempotency_key=None,
        cipher=cipher,
        publisher=publisher,
        negotiation_periods=negotiation_periods_of(runtime),
        filer=Actor(ActorRole.HOTLINE, principal.sub),
    )
    stored = await complaint_service.file_complaint(session, filing)
    return _filed(stored, regulator_router.prefix)


@consumer_router.get("", response_model=ComplaintList, summary="My complaints, newest first")
async def list_my_complaints(
    principal: ConsumerPrincipal,
    session: DbSession,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ComplaintList:
    """The caller's own complaints, newest first, a page at a time."""
    return await complaint_service.list_complaints(
        session, conditions=complaint_service.consumer_conditions(principal.sub), cursor=cursor, limit=limit)


@consumer_router.get("/{complaint_id}", response_model=ComplaintRead, summary="One of my complaints",
                     responses={304: {"description": "Not modified since the ETag sent in If-None-Match"}})
async def get_my_complaint(
    complaint_id: uuid.UUID,
    principal: ConsumerPrincipal,
    session: DbSession,
    cipher: Cipher,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Status, deadlines and timeline of the caller's complaint, with an ETag for cheap polling."""
    if if_none_match is not None:
        version = await complaint_service.version_of(session, complaint_id=complaint_id, consumer_id=principal.sub)
        if version is not None and _matches(if_none_match, version):
            return Response(status_code=304, headers={"ETag": _etag(version)})
    found = await complaint_service.get_for_consumer(session, complaint_id=complaint_id,
                                                     consumer_id=principal.sub, cipher=cipher)
    return JSONResponse(found.detail.model_dump(mode="json"), headers={"ETag": _etag(found.version)})


@regulator_router.get("", response_model=ComplaintList, summary="The work queue of the regions I govern",
                      responses={403: {"description": "The token does not govern that region"},
                                 422: {"description": "A filter or the cursor is not valid"}})
async def list_region_complaints(
    principal: RegulatorPrincipal,
    session: DbSession,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    kind: ComplaintKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    overdue: bool = False,
    due_before: date | None = None,
    sector: Annotated[str | None, Query(max_length=64)] = None,
    issue_type: IssueType | None = None,
    merchant_id: uuid.UUID | None = None,
    business: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
    channel: Channel | None = None,
    case_no: Annotated[str | None, Query(min_length=3, max_length=40)] = None,
    cursor: str | None = None,
    limit: PageSize = 20,
) -> ComplaintList:
    """Complaints and reports in `region` (default: the caller's own, which must be a region the caller governs)
    and the regions below it: first those whose current stage has a clock (merchant negotiation, initial review,
    report verification), the earliest due first (an overdue clock keeps its due date, so overdue cases lead), then
    the others, newest first. `due_at` on each item is that clock's due instant.

    Filters: `status` (repeated: any of them; the console's default is what awaits a decision, complaints pending
    acceptance and reports received or under verification), `kind`, `overdue` (the clock has run out),
    `due_before` (the clock's due date is before that date), `sector`, `issue_type`, `merchant_id`, `business` (part
    of the business's name), `channel`, `case_no` (a case number or its beginning)."""
    scope = region or principal.region
    if scope is None or not principal.governs(scope):
        raise Problem("forbidden", "The token does not govern that region")
    queue = complaint_service.QueueFilter(
        region_prefix=regions.prefix(scope), statuses=tuple(status or ()), kind=kind,
        overdue_at=utcnow() if overdue else None,
        due_before=end_of_day(due_before - timedelta(days=1)) if due_before is not None else None, sector=sector,
        issue_type=issue_type, merchant_id=merchant_id, business=business, channel=channel, case_no=case_no)
    return await complaint_service.list_queue(session, queue=queue, cursor=cursor, limit=limit)


@consumer_router.get(
    "/{complaint_id}/stream", summary="Follow my complaint live (server-sent events)",
    response_class=EventStream, status_code=200,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`complaint` events carrying the full detail (as GET /{id}), id = version"}},
)
async def stream_my_complaint(complaint_id: uuid.UUID, principal: ConsumerPrincipal, cipher: Cipher,
                              runtime: Runtime, changes: Changes) -> EventStream:
    """The current detail at once, then again after every change (status, timeline, clocks), whichever process made
    it: changes are announced through PostgreSQL NOTIFY. A comment line keeps idle connections open."""
    # A stream stays open for hours: it holds no pooled connection and no detail while it waits.
    async with runtime.sessionmaker() as session:
        if await complaint_service.version_of(session, complaint_id=complaint_id, consumer_id=principal.sub) is None:
            raise Problem("not-found", "No such complaint")

    async def events() -> AsyncIterator[ServerSentEvent]:
        with changes.subscribe(complaint_id) as changed:
            sent: int | None = None
            while True:
                async with runtime.sessionmaker() as reader:
                    found = await complaint_service.get_for_consumer(
                        reader, complaint_id=complaint_id, consumer_id=principal.sub, cipher=cipher)
                if found.version != sent:
                    sent = found.version
                    yield ServerSentEvent(data=found.detail.model_dump_json(), event="complaint", id=str(sent))
                del found
                await changed.wait()
                changed.clear()

    return EventStream(events(), ping_seconds=STREAM_PING_SECONDS)


@internal_router.get(
    "", summary="Every changed case, for a relay that fans them out (the gateway)",
    response_class=EventStream, status_code=200,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`changed` events whose data is a case id, and `resync` events"}},
)
async def feed_case_changes(changes: Changes) -> EventStream:
    """A `changed` event (data: the case id) each time a case gets a new version, in commit order. `resync` comes
    first, and again whenever changes may have gone unannounced (the service stopped listening for a moment, or this
    reader fell behind): every case the reader follows must then be read afresh. Holds no case data, so one
    connection per gateway process serves all of its consumers' streams (docs/design-notes.md, live streams)."""

    async def events() -> AsyncIterator[ServerSentEvent]:
        with changes.feed() as feed:
            while True:
                changed = await feed.get()
                yield (ServerSentEvent(data="", event="resync") if changed == RESYNC
                       else ServerSentEvent(data=changed, event="changed"))

    return EventStream(events(), ping_seconds=STREAM_PING_SECONDS)


@consumer_router.post("/{complaint_id}/withdraw", response_model=ComplaintRead, summary="Withdraw my complaint",
                      responses={409: {"description": "The complaint is already closed"}})
async def withdraw_complaint(complaint_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession,
                             cipher: Cipher, publisher: Events) -> ComplaintRead:
    """Withdraw a complaint that is not closed yet (submitted, with_merchant, pending_acceptance, accepted).

    Emits `withdrawn` and `closed`; an open negotiation or mediation ends (Art. 23 ground 1).
    """
    await decisions.withdraw(session, case_id=complaint_id, consumer_id=principal.sub, publisher=publisher)
    return await _consumer_view(session, complaint_id, principal.sub, cipher)


@consumer_router.post("/{complaint_id}/rating", response_model=ComplaintRead, summary="Rate the handling, once",
                      responses={409: {"description": "Not closed with an outcome yet, or already rated"}})
async def rate_complaint(complaint_id: uuid.UUID, body: RatingIn, principal: ConsumerPrincipal, session: DbSession,
                         cipher: Cipher, publisher: Events) -> ComplaintRead:
    """A satisfaction rating (1-5 and an optional text), once, after closed_settled, closed_terminated or
    closed_refused."""
    await decisions.rate(session, case_id=complaint_id, consumer_id=principal.sub, body=body, publisher=publisher,
                         cipher=cipher)
    return await _consumer_view(session, complaint_id, principal.sub, cipher)


@consumer_router.get("/{complaint_id}/evidence/{evidence_id}", summary="Download an attachment of my complaint",
                     response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def download_my_evidence(complaint_id: uuid.UUID, evidence_id: uuid.UUID, principal: ConsumerPrincipal,
                               session: DbSession, cipher: Cipher, store: Store) -> Response:
    """The file as uploaded, with its sniffed media type."""
    if await complaint_service.version_of(session, complaint_id=complaint_id, consumer_id=principal.sub) is None:
        raise Problem("not-found", "No such complaint")
    return await stored_file(session, cipher, store, complaint_id, evidence_id)


async def _consumer_view(session: AsyncSession, complaint_id: uuid.UUID, consumer_id: str,
                         cipher: PiiCipher) -> ComplaintRead:
    found = await complaint_service.get_for_consumer(session, complaint_id=complaint_id, consumer_id=consumer_id,
                                                     cipher=cipher)
    return found.detail


@regulator_router.get("/{complaint_id}", response_model=ComplaintRead, summary="A case of a region I govern")
async def get_region_complaint(complaint_id: uuid.UUID, principal: BureauPrincipal, session: DbSession,
                               cipher: Cipher, rules: Rules) -> ComplaintRead:
    """Full detail of a complaint or report in a region the caller governs, with the parties' personal data masked
    (王*, 138****8000; POST …/{id}/reveal shows it in full, logged); 404 elsewhere."""
    return await _regulator_view(session, complaint_id, principal, cipher, rules)


@regulator_router.post("/{complaint_id}/accept", response_model=ComplaintRead, summary="Accept for mediation",
                       responses={409: {"description": "The complaint is not pending acceptance"}})
async def accept_complaint(complaint_id: uuid.UUID, principal: BureauPrincipal, session: DbSession,
                           cipher: Cipher, rules: Rules, publisher: Events) -> ComplaintRead:
    """pending_acceptance -> accepted (Order 121 Art. 15, within 7 working days of receipt).

    Meets the initial_review clock and emits `complaints.complaint.accepted.v1`, on which mediation opens regulator
    mediation.
    """
    await decisions.accept(session, case_id=complaint_id, principal=principal, cipher=cipher, publisher=publisher)
    return await _regulator_view(session, complaint_id, principal, cipher, rules)


@regulator_router.post("/{complaint_id}/refuse", response_model=ComplaintRead, summary="Refuse (不予受理)",
                       responses={409: {"description": "The complaint is not pending acceptance"}})
async def refuse_complaint(complaint_id: uuid.UUID, body: RefuseIn, principal: BureauPrincipal,
                           session: DbSession, cipher: Cipher, rules: Rules, publisher: Events) -> ComplaintRead:
    """pending_acceptance -> closed_refused with an Art. 16 ground (1-7) and a note.

    The consumer's view shows the ground, the note and the other routes open to them (Art. 15, Consumer Rights
    Protection Law Art. 39). Emits `refused` and `closed`.
    """
    await decisions.refuse(session, case_id=complaint_id, principal=principal, body=body, publisher=publisher)
    return await _regulator_view(session, complaint_id, principal, cipher, rules)


@regulator_router.post("/{complaint_id}/route-to-merchant", response_model=ComplaintRead,
                       summary="Send to an ODR enterprise",
                       responses={409: {"description": "The complaint is not pending acceptance"}})
async def route_complaint_to_merchant(complaint_id: uuid.UUID, body: RouteToMerchantIn, principal: BureauPrincipal,
                                      session: DbSession, cipher: Cipher, rules: Rules,
                                      publisher: Events, periods: Periods) -> ComplaintRead:
    """pending_acceptance -> with_merchant: the enterprise (active ODR enrolment required, else 422) negotiates
    for 10 working days, or the period the complaint's region set. Emits `routed` with target `merchant`."""
    await decisions.route_to_merchant(session, case_id=complaint_id, principal=principal,
                                      merchant_id=body.merchant_id, cipher=cipher, publisher=publisher,
                                      negotiation_periods=periods)
    return await _regulator_view(session, complaint_id, principal, cipher, rules)


@regulator_router.post("/{complaint_id}/transfer", response_model=TransferRead,
                       summary="Transfer to the competent bureau (Order 121 Art. 13, 41)",
                       responses={404: {"description": "No such complaint in the regions you govern"},
                                  409: {"description": "The complaint is not pending acceptance"},
                                  422: {"description": "Unknown region, or the complaint's own region"}})
async def transfer_complaint(complaint_id: uuid.UUID, body: TransferIn, principal: BureauPrincipal,
                             session: DbSession, publisher: Events) -> TransferRead:
    """pending_acceptance in the caller's region -> pending_acceptance in `to_region`: the receiving bureau's
    7-working-day acceptance clock starts on the day of the transfer, the sender's clock ends, and the sender no
    longer sees the case (404). The consumer's timeline gets an entry with code `transferred` and params
    from_region, to_region, reason; emits `complaints.complaint.transferred.v1` (an enterprise the case had reached
    receives it by webhook). The answer says where the case went and its new clock, no more: the case's detail is the
    receiving bureau's to read."""
    return await decisions.transfer(session, case_id=complaint_id, principal=principal, body=body,
                                    publisher=publisher)


@regulator_router.post("/{complaint_id}/issue-type", response_model=ComplaintRead,
                       summary="Correct the issue type",
                       responses={404: {"description": "No such case in the regions you govern"},
                                  422: {"description": "Not an issue type of the list"}})
async def correct_issue_type(complaint_id: uuid.UUID, body: IssueTypeIn, principal: BureauPrincipal,
                             session: DbSession, cipher: Cipher, rules: Rules, publisher: Events) -> ComplaintRead:
    """Set the issue type of a complaint or report (any status) to one of the list; the timeline gets an entry with
    code `issue_type_corrected` and params from, to. Emits `complaints.complaint.issue_type_corrected.v1`."""
    await decisions.correct_issue_type(session, case_id=complaint_id, principal=principal, body=body,
                                       publisher=publisher)
    return await _regulator_view(session, complaint_id, principal, cipher, rules)


@regulator_router.get("/{complaint_id}/evidence/{evidence_id}", summary="Download an attachment",
                      response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def download_region_evidence(complaint_id: uuid.UUID, evidence_id: uuid.UUID, principal: BureauPrincipal,
                                   session: DbSession, cipher: Cipher, rules: Rules, store: Store) -> Response:
    """An attachment of a case in a region the caller governs."""
    await _regulator_view(session, complaint_id, principal, cipher, rules)
    return await stored_file(session, cipher, store, complaint_id, evidence_id)


async def _regulator_view(session: AsyncSession, complaint_id: uuid.UUID, principal: Principal,
                          cipher: PiiCipher, rules: FlagRules) -> ComplaintRead:
    found = await complaint_service.get_for_regulator(session, complaint_id=complaint_id, principal=principal,
                                                      cipher=cipher, rules=rules)
    return found.detail


def _etag(version: int) -> str:
    return f'W/"{version}"'


def _matches(header: str, version: int) -> bool:
    """If-None-Match semantics with weak comparison: W/"1" and "1" both match version 1, and so does *."""
    tags = {tag.strip() for tag in header.split(",")}
    return "*" in tags or bool({_etag(version), _etag(version).removeprefix("W/")} & tags)


@merchant_router.get("/{complaint_id}/evidence/{evidence_id}", summary="Download evidence shared with me",
                     response_class=Response, responses={200: {"content": {"application/octet-stream": {}}},
                                                         **problem_responses(401, 403, 404, 422)})
async def download_shared_evidence(complaint_id: uuid.UUID, evidence_id: uuid.UUID, principal: MerchantPrincipal,
                                   session: DbSession, store: Store, cipher: Cipher) -> Response:
    """An attachment the consumer shared with the calling enterprise (listed in its case's `evidence`); 404 for
    anything else."""
    if principal.merchant_id is None:
        raise Problem("forbidden", "The token names no merchant")
    row = await enterprise.shared_evidence(session, cipher, case_id=complaint_id, evidence_id=evidence_id,
                                           merchant_id=principal.merchant_id)
    return Response(await store.get(row["storage_key"]), media_type=row["media_type"], headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['filename'])}",
        "X-Content-Type-Options": "nosniff", "ETag": f'"{row["sha256"]}"'})
