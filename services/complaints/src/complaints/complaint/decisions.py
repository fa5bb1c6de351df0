"""Moves of a complaint after intake: regulator decisions, the consumer's withdrawal and rating, and the outcomes
mediation reports. Each public function is one use case and one transaction (`session.begin()`), except the
`record_*` functions, which run inside the inbox consumer's transaction.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import Insert, RowMapping, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enterprise import answer_fields
from complaints.complaint.enums import ActorRole, ComplaintKind, ComplaintStatus
from complaints.complaint.models import pii_context
from complaints.complaint.schemas import IssueTypeIn, RatingIn, RefuseIn, TransferIn, TransferRead
from complaints.complaint.state import (
    CLOSED_BY_OUTCOME,
    FINAL,
    SYSTEM,
    Actor,
    annotate,
    complaint_table,
    ensure_transferable,
    event_table,
    lock,
    status_of,
    timeline_row,
    transition,
)
from complaints.deadline import service as deadline_service
from complaints.deadline.enums import DeadlineKind, DeadlineState
from complaints.deadline.service import NegotiationPeriods
from complaints.enrollment import service as enrollment_service
from complaints.enrollment.models import EnrollmentStatus
from complaints.evidence import service as evidence_service
from complaints.live import announce_change
from complaints.publisher import Publisher
from servicekit import regions
from servicekit.auth import Principal
from servicekit.contracts.complaints_v1 import (
    ComplainantForMerchant,
    ComplaintAccepted,
    ComplaintClosed,
    ComplaintIssueTypeCorrected,
    ComplaintRated,
    ComplaintRefused,
    ComplaintRouted,
    ComplaintTransferred,
    ComplaintWithdrawn,
    RouteTarget,
    SealedFacts,
)
from servicekit.contracts.mediation_v1 import CaseOpened, CaseSettled, CaseTerminated, NegotiationFailed
from servicekit.db import utcnow
from servicekit.events.envelope import EventEnvelope
from servicekit.observability import get_logger
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

# Order 121 Art. 15: a refusal tells the consumer the other routes of Consumer Rights Protection Law Art. 39.
OTHER_ROUTES = (
    "依据《消费者权益保护法》第三十九条，您还可以通过下列途径解决争议："
    "（一）与经营者协商和解；（二）请求消费者协会或者依法成立的其他调解组织调解；"
    "（三）向有关行政部门投诉；（四）根据与经营者达成的仲裁协议提请仲裁机构仲裁；（五）向人民法院提起诉讼。"
)

log = get_logger("complaints.decisions")


async def _governed_complaint(session: AsyncSession, case_id: uuid.UUID, principal: Principal) -> RowMapping:
    """The locked complaint if the regulator governs its region; 404 otherwise (its existence is not revealed)."""
    case = await lock(session, case_id)
    if case is None or not principal.governs(case["region_code"]) or case["kind"] != ComplaintKind.COMPLAINT:
        raise Problem("not-found", "No such complaint in the regions you govern")
    return case


async def _own_complaint(session: AsyncSession, case_id: uuid.UUID, consumer_id: str) -> RowMapping:
    case = await lock(session, case_id)
    if case is None or case["consumer_id"] != consumer_id or case["kind"] != ComplaintKind.COMPLAINT:
        raise Problem("not-found", "No such complaint")
    return case


def _complainant(case: RowMapping, cipher: PiiCipher) -> ComplainantForMerchant:
    """Name and masked phone: what a business (or mediation) needs of the complainant."""
    name = cipher.decrypt(case["complainant_name_enc"], context=f"complaint:{case['id']}:name")
    phone = cipher.decrypt(case["complainant_phone_enc"], context=f"complaint:{case['id']}:phone")
    return ComplainantForMerchant.sealed(cipher, complaint_id=case["id"], name=name, phone=phone)


def _sealed_facts(case: RowMapping, cipher: PiiCipher) -> str:
    """The case's facts, opened from its row and sealed for the event that hands the complaint on."""
    facts = cipher.decrypt(case["facts_enc"], context=pii_context(case["id"], "facts"))
    return SealedFacts.seal_facts(cipher, complaint_id=case["id"], facts=facts)


def _closed(row: RowMapping, publisher: Publisher) -> EventEnvelope:
    return ComplaintClosed(
        complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
        merchant_id=row["merchant_id"], status=row["status"], recovered_fen=row["recovered_fen"],
        closed_at=row["closed_at"],
    ).envelope(source=publisher.source)


async def accept(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, cipher: PiiCipher,
                 publisher: Publisher) -> None:
    """pending_acceptance -> accepted (Art. 15); mediation opens regulator mediation on the accepted event."""
    async with session.begin():
        case = await _governed_complaint(session, case_id, principal)
        now = utcnow()
        shared = await evidence_service.shared_of_case(session, cipher, case_id)

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintAccepted(
                complaint_id=row["id"], case_no=row["case_no"], region_code=row["region_code"],
                merchant_id=row["merchant_id"], respondent_name=row["respondent_name"],
                consumer_id=row["consumer_id"], complainant=_complainant(row, cipher),
                request_type=row["request_type"], request_amount_fen=row["request_amount_fen"],
                facts_sealed=_sealed_facts(row, cipher), accepted_by=principal.sub, accepted_at=now,
                **answer_fields(row, shared),
            ).envelope(source=publisher.source)]

        await transition(session, case=case, target=ComplaintStatus.ACCEPTED,
                         actor=Actor(ActorRole.REGULATOR, principal.sub), at=now, publisher=publisher,
                         events=events, code="accepted", note="Accepted by the market regulator for mediation",
                         changes={"accepted_at": now, "decided_at": now, "decided_by": principal.sub})
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.MET,
                                          kinds=[DeadlineKind.INITIAL_REVIEW])


async def refuse(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, body: RefuseIn,
                 publisher: Publisher) -> None:
    """pending_acceptance -> closed_refused with an Art. 16 ground; the consumer is told the other routes."""
    async with session.begin():
        case = await _governed_complaint(session, case_id, principal)
        now = utcnow()

        def events(row: RowMapping) -> list[EventEnvelope]:
            refused = ComplaintRefused(complaint_id=row["id"], region_code=row["region_code"],
                                       merchant_id=row["merchant_id"], ground=body.ground, refused_by=principal.sub,
                                       refused_at=now)
            return [refused.envelope(source=publisher.source), _closed(row, publisher)]

        await transition(session, case=case, target=ComplaintStatus.CLOSED_REFUSED,
                         actor=Actor(ActorRole.REGULATOR, principal.sub), at=now, publisher=publisher,
                         events=events, code="refused", note=f"Refused (Art. 16 ground {body.ground}): {body.note}",
                         details={"ground": body.ground, "text": body.note},
                         changes={"decided_at": now, "decided_by": principal.sub, "refusal_ground": body.ground,
                                  "other_routes": OTHER_ROUTES, "closed_at": now,
                                  "decision_note_enc": publisher.cipher.encrypt(
                                      body.note, context=pii_context(case_id, "decision_note"))})
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.MET)


async def route_to_merchant(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal,
                            merchant_id: uuid.UUID, cipher: PiiCipher, publisher: Publisher,
                            negotiation_periods: NegotiationPeriods) -> None:
    """pending_acceptance -> with_merchant: the regulator hands the complaint to an active ODR enterprise, which
    negotiates for the period of the complaint's region."""
    async with session.begin():
        case = await _governed_complaint(session, case_id, principal)
        merchant = await enrollment_service.get(session, merchant_id=merchant_id)
        if merchant is None or merchant.status != EnrollmentStatus.ACTIVE.value:
            raise Problem("validation-error", "Only an active ODR enterprise can take a complaint",
                          errors=[{"field": "body.merchant_id", "message": "not an active ODR enterprise",
                                   "code": "not_enrolled"}])
        now = utcnow()
        shared = await evidence_service.shared_of_case(session, cipher, case_id)
        negotiation_days = negotiation_periods.for_region(case["region_code"])
        negotiation_due = deadline_service.due_date_from(now, DeadlineKind.MERCHANT_NEGOTIATION,
                                                         working_days=negotiation_days)

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintRouted(
                complaint_id=row["id"], case_no=row["case_no"], target=RouteTarget.MERCHANT,
                merchant_id=row["merchant_id"], region_code=row["region_code"], consumer_id=row["consumer_id"],
                complainant=_complainant(row, cipher), request_type=row["request_type"],
                request_amount_fen=row["request_amount_fen"], facts_sealed=_sealed_facts(row, cipher),
                due_date=negotiation_due, routed_at=now, **answer_fields(row, shared),
            ).envelope(source=publisher.source)]

        await transition(session, case=case, target=ComplaintStatus.WITH_MERCHANT,
                         actor=Actor(ActorRole.REGULATOR, principal.sub), at=now, publisher=publisher,
                         events=events, code="sent_to_enterprise",
                         note=f"Sent by the regulator to the ODR enterprise {merchant.name}",
                         details={"merchant_id": str(merchant_id), "merchant_name": merchant.name},
                         changes={"merchant_id": merchant_id, "respondent_name": merchant.name,
                                  "respondent_uscc": merchant.uscc, "routed_at": now, "decided_at": now,
                                  "decided_by": principal.sub})
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.MET,
                                          kinds=[DeadlineKind.INITIAL_REVIEW])
        await deadline_service.start(session, case_id=case_id, kind=DeadlineKind.MERCHANT_NEGOTIATION, at=now,
                                     working_days=negotiation_days)


async def transfer(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, body: TransferIn,
                   publisher: Publisher) -> TransferRead:
    """pending_acceptance -> pending_acceptance in another region (Order 121 Art. 13, 41): the complaint goes to the
    competent bureau, whose 7-working-day acceptance clock starts on the day of the transfer; the sending bureau's
    clock ends (a breached one stays breached). The timeline tells the consumer where and why, in a code an app
    translates; the enterprise the case had reached is told by the event."""
    async with session.begin():
        case = await _governed_complaint(session, case_id, principal)
        ensure_transferable(status_of(case["status"]))
        if body.to_region == case["region_code"]:
            raise Problem("validation-error", "The complaint is already in that region",
                          errors=[{"field": "body.to_region", "message": "the case's own region",
                                   "code": "same_region"}])
        now = utcnow()
        review_due = deadline_service.due_date_from(now, DeadlineKind.INITIAL_REVIEW)
        from_region = case["region_code"]
        receiving = regions.get(body.to_region)
        receiving_name = receiving.name if receiving is not None else body.to_region

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintTransferred(
                complaint_id=row["id"], case_no=row["case_no"], from_region=from_region,
                region_code=row["region_code"], merchant_id=row["merchant_id"], reason=body.reason,
                due_date=review_due, transferred_at=now,
            ).envelope(source=publisher.source)]

        # Ended first: the new clock is then the only open one, and the queue follows it.
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.ENDED,
                                          kinds=[DeadlineKind.INITIAL_REVIEW])
        moved = await transition(session, case=case, target=ComplaintStatus.PENDING_ACCEPTANCE,
                         actor=Actor(ActorRole.REGULATOR, principal.sub), at=now, publisher=publisher,
                         events=events, code="transferred",
                         note=f"Transferred from region {from_region} to the market regulator of {receiving_name} "
                              f"({body.to_region}): {body.reason}",
                         details={"from_region": from_region, "to_region": body.to_region, "reason": body.reason},
                         changes={"region_code": body.to_region, "transferred_from": from_region, "routed_at": now})
        clock = await deadline_service.start(session, case_id=case_id, kind=DeadlineKind.INITIAL_REVIEW, at=now)
    return TransferRead(id=moved["id"], case_no=moved["case_no"], status=moved["status"], from_region=from_region,
                        region_code=moved["region_code"], due_date=clock["due_date"], transferred_at=now)


async def correct_issue_type(session: AsyncSession, *, case_id: uuid.UUID, principal: Principal, body: IssueTypeIn,
                             publisher: Publisher) -> None:
    """The regulator corrects the issue type of a complaint or report of its regions, whatever its status; the
    timeline keeps the old and the new value. The same type again changes nothing."""
    async with session.begin():
        case = await lock(session, case_id)
        if case is None or not principal.governs(case["region_code"]):
            raise Problem("not-found", "No such complaint in the regions you govern")
        previous = case["issue_type"]
        if previous == body.issue_type.value:
            return
        now = utcnow()
        is_report = case["kind"] == ComplaintKind.REPORT

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintIssueTypeCorrected(
                complaint_id=row["id"], region_code=row["region_code"],
                merchant_id=None if is_report else row["merchant_id"], kind=row["kind"], previous=previous,
                issue_type=row["issue_type"], corrected_at=now,
            ).envelope(source=publisher.source)]

        note = f"Issue type corrected from {previous} to {body.issue_type.value}"
        await annotate(session, case=case, actor=Actor(ActorRole.REGULATOR, principal.sub), at=now,
                       publisher=publisher, events=events, code="issue_type_corrected",
                       note=note + (f": {body.note}" if body.note else ""),
                       details={"from": previous, "to": body.issue_type.value},
                       changes={"issue_type": body.issue_type.value})


async def withdraw(session: AsyncSession, *, case_id: uuid.UUID, consumer_id: str, publisher: Publisher) -> None:
    """The consumer withdraws (submitted, with_merchant, pending_acceptance or accepted -> withdrawn)."""
    async with session.begin():
        case = await _own_complaint(session, case_id, consumer_id)
        now = utcnow()

        def events(row: RowMapping) -> list[EventEnvelope]:
            withdrawn = ComplaintWithdrawn(complaint_id=row["id"], region_code=row["region_code"],
                                           merchant_id=row["merchant_id"], withdrawn_at=now)
            return [withdrawn.envelope(source=publisher.source), _closed(row, publisher)]

        await transition(session, case=case, target=ComplaintStatus.WITHDRAWN,
                         actor=Actor(ActorRole.CONSUMER, consumer_id), at=now, publisher=publisher,
                         events=events, code="withdrawn", note="Withdrawn by the consumer",
                         changes={"withdrawn_at": now, "closed_at": now})
        await deadline_service.close_open(session, case_id=case_id, at=now, state=DeadlineState.ENDED)


async def rate(session: AsyncSession, *, case_id: uuid.UUID, consumer_id: str, body: RatingIn,
               publisher: Publisher, cipher: PiiCipher) -> None:
    """A satisfaction rating, once, after the complaint closed with an outcome; 409 before that or the second time."""
    async with session.begin():
        case = await _own_complaint(session, case_id, consumer_id)
        if status_of(case["status"]) not in CLOSED_BY_OUTCOME:
            raise Problem("conflict", "A complaint can be rated once it is closed", current_status=case["status"])
        if case["rating_score"] is not None:
            raise Problem("conflict", "This complaint was already rated")
        now = utcnow()

        def events(row: RowMapping) -> list[EventEnvelope]:
            return [ComplaintRated(complaint_id=row["id"], merchant_id=row["merchant_id"], rating=body.score,
                                   rated_at=now).envelope(source=publisher.source)]

        await annotate(session, case=case, actor=Actor(ActorRole.CONSUMER, consumer_id), at=now,
                       publisher=publisher, events=events, code="rated", note=f"Rated {body.score}/5",
                       details={"score": body.score},
                       changes={"rating_score": body.score, "rated_at": now, "rating_text_enc": (
                           cipher.encrypt(body.text, context=pii_context(case_id, "rating_text"))
                           if body.text is not None else None)})


async def _open_case_for(session: AsyncSession, complaint_id: uuid.UUID, event_type: str) -> RowMapping | None:
    """The locked complaint an outcome is about, or None when it is already final (a late or repeated event)."""
    case = await lock(session, complaint_id)
    if case is None:
        raise LookupError(f"{event_type} for unknown complaint {complaint_id}")
    if status_of(case["status"]) in FINAL:
        log.info("outcome for a closed complaint ignored", complaint_id=str(complaint_id), event_type=event_type,
                 status=case["status"])
        return None
    return case


async def record_case_opened(session: AsyncSession, event: CaseOpened, publisher: Publisher) -> None:
    """Mediation opened a case for the complaint: remember its id (the consumer follows the negotiation there).

    It comes for most filings, so it is one statement, as `annotate` would write it: the update locks the case (and,
    having waited for a lock, checks it again), and the timeline row is written only if it updated, with the status
    it returns. An unknown case, or one that records this mediation case already, gets nothing."""
    entry = timeline_row(publisher.cipher, case_id=event.complaint_id, at=event.opened_at, status="",
                         role=SYSTEM.role, actor_id=SYSTEM.id, code="mediation_opened",
                         note=f"Mediation case opened ({event.status})",
                         details={"case_id": str(event.case_id), "case_status": event.status})
    await session.execute(_case_opened_statement(tuple(entry)), {
        "opened_complaint": event.complaint_id, "opened_case": event.case_id, "opened_at": event.opened_at,
        **{f"entry_{name}": value for name, value in entry.items() if name != "status"}})
    announce_change(session, event.complaint_id)


@functools.cache
def _case_opened_statement(timeline_columns: tuple[str, ...]) -> Insert:
    """`record_case_opened`'s statement for timeline rows of these columns, built once and run with parameters:
    building it per event cost about as much as running it."""
    complaints = complaint_table.c
    opened = (complaint_table.update()
              .where(complaints.id == bindparam("opened_complaint", type_=complaints.id.type),
                     complaints.mediation_case_id.is_distinct_from(
                         bindparam("opened_case", type_=complaints.mediation_case_id.type)))
              .values(mediation_case_id=bindparam("opened_case"),
                      updated_at=bindparam("opened_at", type_=complaints.updated_at.type),
                      version=complaints.version + 1)
              .returning(complaints.status)
              .cte("opened"))
    return event_table.insert().from_select(
        list(timeline_columns),
        select(*(opened.c.status if name == "status" else bindparam(f"entry_{name}", type_=event_table.c[name].type)
                 for name in timeline_columns)),
    ).add_cte(opened)


async def record_negotiation_failed(session: AsyncSession, event: NegotiationFailed, cipher: PiiCipher,
                                    publisher: Publisher) -> None:
    """with_merchant -> pending_acceptance: the regulator must now decide within 7 WD."""
    case = await _open_case_for(session, event.complaint_id, event.event_type)
    if case is None or case["status"] == ComplaintStatus.PENDING_ACCEPTANCE:
        return
    now = utcnow()
    review_due = deadline_service.due_date_from(now, DeadlineKind.INITIAL_REVIEW)

    def events(row: RowMapping) -> list[EventEnvelope]:
        return [ComplaintRouted(
            issue_type=row["issue_type"],
            complaint_id=row["id"], case_no=row["case_no"], target=RouteTarget.REGULATOR,
            merchant_id=row["merchant_id"], region_code=row["region_code"], consumer_id=row["consumer_id"],
            complainant=_complainant(row, cipher), request_type=row["request_type"],
            request_amount_fen=row["request_amount_fen"], facts_sealed=_sealed_facts(row, cipher),
            due_date=review_due, routed_at=now,
        ).envelope(source=publisher.source)]

    await transition(session, case=case, target=ComplaintStatus.PENDING_ACCEPTANCE, actor=SYSTEM, at=now,
                     publisher=publisher, events=events,
                     code="negotiation_failed",
                     note=f"Negotiation with the enterprise failed ({event.reason}); sent to the regulator",
                     details={"case_id": str(event.case_id), "reason": event.reason}, changes={"routed_at": now})
    await deadline_service.close_open(session, case_id=case["id"], at=now, state=DeadlineState.ENDED,
                                      kinds=[DeadlineKind.MERCHANT_NEGOTIATION])
    await deadline_service.start(session, case_id=case["id"], kind=DeadlineKind.INITIAL_REVIEW, at=now)


async def record_settled(session: AsyncSession, event: CaseSettled, publisher: Publisher) -> None:
    """with_merchant or accepted -> closed_settled; the agreement's amount counts as money recovered."""
    case = await _open_case_for(session, event.complaint_id, event.event_type)
    if case is None:
        return
    now = utcnow()
    await transition(session, case=case, target=ComplaintStatus.CLOSED_SETTLED, actor=SYSTEM, at=now,
                     publisher=publisher, events=lambda row: [_closed(row, publisher)],
                     code="settled",
                     note=f"Settled in {event.stage}: {event.amount_fen / 100:.2f} yuan to the consumer",
                     details={"case_id": str(event.case_id), "amount_fen": event.amount_fen, "stage": event.stage},
                     changes={"recovered_fen": complaint_table.c.recovered_fen + event.amount_fen, "closed_at": now,
                              "mediation_case_id": event.case_id})
    await deadline_service.close_open(session, case_id=case["id"], at=now, state=DeadlineState.MET)


async def record_terminated(session: AsyncSession, event: CaseTerminated, publisher: Publisher) -> None:
    """accepted -> closed_terminated: regulator mediation ended without agreement (Art. 23 ground)."""
    case = await _open_case_for(session, event.complaint_id, event.event_type)
    if case is None:
        return
    now = utcnow()
    note = event.note_text(publisher.cipher)
    await transition(session, case=case, target=ComplaintStatus.CLOSED_TERMINATED,
                     actor=Actor(ActorRole.MEDIATOR), at=now, publisher=publisher,
                     events=lambda row: [_closed(row, publisher)],
                     code="terminated", note=f"Mediation terminated (Art. 23 ground {event.ground})" + (
                         f": {note}" if note else ""),
                     details={"case_id": str(event.case_id), "ground": event.ground, "text": note},
                     changes={"closed_at": now})
    await deadline_service.close_open(session, case_id=case["id"], at=now, state=DeadlineState.ENDED)
