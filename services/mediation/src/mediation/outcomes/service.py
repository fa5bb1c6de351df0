"""Outcome records, signal and queue reads, the reviewer's outcome (on the audit chain) and the period figures."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements.models import SettlementAgreement
from mediation.audit import chain
from mediation.audit.models import (
    AuditReview,
    CaseReview,
    ReviewOutcome,
    opened_review_note,
    sealed_review_note,
)
from mediation.cases import trail
from mediation.cases.access import Actor, load_case
from mediation.cases.models import MediationCase
from mediation.cases.state import FINAL, CaseStatus, Stage
from mediation.outcomes import thresholds
from mediation.outcomes.models import ComplaintProfile, OutcomeSignal, SignalKind, StationSettlement
from mediation.outcomes.rules import RULES
from mediation.outcomes.schemas import (
    EnterpriseFigures,
    FulfilmentRead,
    OutcomeRecord,
    PeriodFigures,
    QueueState,
    Remedy,
    ReviewItemRead,
    SettledBy,
    SignalRead,
    ThresholdsRead,
    ThresholdValues,
)
from mediation.settings import EVENT_SOURCE
from servicekit import regions
from servicekit.auth import Principal, Role
from servicekit.calendar import end_of_day, local_date
from servicekit.contracts.mediation_v1 import CaseReviewed
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

NOT_FOUND = "No such review"


@dataclass(frozen=True)
class Page:
    items: list[Any]
    last_id: uuid.UUID | None


def require_auditor(principal: Principal, region: str) -> None:
    """Regulator staff of the region or above; a mediator does not audit outcomes (its own among them)."""
    if Role.REGULATOR not in principal.roles:
        raise Problem("forbidden", "Only regulator staff audit outcomes")
    if not principal.governs(region):
        raise Problem("forbidden", f"The token does not govern region {region}")


def _in_region(column: Any, region: str) -> Any:
    return column.startswith(regions.prefix(region))


async def _page(session: AsyncSession, query: Any, order: Any, limit: int) -> tuple[list[Any], uuid.UUID | None]:
    """One page of rows newest first (ids are UUIDv7), and the id to continue after when more follow."""
    rows = list(await session.execute(query.order_by(order.desc()).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1][0].id if has_more else None


# Outcome records


def settled_by(case: MediationCase) -> SettledBy | None:
    """Negotiation with the enterprise, or mediation by the regulator or the body it delegated the case to."""
    if case.status != CaseStatus.SETTLED.value:
        return None
    if case.stage == Stage.NEGOTIATION.value:
        return SettledBy.ENTERPRISE_NEGOTIATION
    if case.mediator_kind == "service_station":
        return SettledBy.STATION
    if case.mediator_kind == "consumer_association":
        return SettledBy.CONSUMER_ASSOCIATION
    return SettledBy.REGULATOR_MEDIATION


def _outcome_query() -> Select[MediationCase, SettlementAgreement, ComplaintProfile]:
    return (select(MediationCase, SettlementAgreement, ComplaintProfile)
            .outerjoin(SettlementAgreement, SettlementAgreement.case_id == MediationCase.id)
            .outerjoin(ComplaintProfile, ComplaintProfile.complaint_id == MediationCase.complaint_id)
            .where(MediationCase.status.in_([status.value for status in FINAL])))


async def _signals_by_case(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[SignalKind]]:
    found: dict[uuid.UUID, list[SignalKind]] = defaultdict(list)
    if case_ids:
        for case_id, kind in (await session.execute(select(OutcomeSignal.case_id, OutcomeSignal.kind)
                                                    .where(OutcomeSignal.case_id.in_(case_ids))
                                                    .order_by(OutcomeSignal.id))).all():
            found[case_id].append(SignalKind(kind))
    return found


def _record(case: MediationCase, agreement: SettlementAgreement | None, profile: ComplaintProfile | None,
            signals: list[SignalKind]) -> OutcomeRecord:
    assert case.closed_at is not None
    filed_at = profile.filed_at if profile else None
    agreed = None
    if agreement is not None:
        agreed = Remedy(type=agreement.terms.get("offer_type"), amount_fen=agreement.terms.get("amount_fen"))
    return OutcomeRecord(
        case_id=case.id, case_no=case.case_no, complaint_id=case.complaint_id, region_code=case.region_code,
        merchant_id=case.merchant_id, sector=profile.sector if profile else None, status=case.status,
        stage=case.stage, opened_at=case.opened_at, filed_at=filed_at, closed_at=case.closed_at,
        days_to_close=(local_date(case.closed_at) - local_date(filed_at or case.opened_at)).days,
        requested=Remedy(type=case.request_type, amount_fen=case.request_amount_fen), agreed=agreed,
        settled_by=settled_by(case), mediator_id=case.mediator_id, termination_ground=case.termination_ground,
        fulfilment=FulfilmentRead(status=agreement.fulfilment_status, fulfil_by=agreement.fulfil_by)
        if agreement else None,
        rating=profile.rating if profile else None, signals=signals)


STATION_STAGE = "station"


def _station_record(settlement: StationSettlement, profile: ComplaintProfile | None) -> OutcomeRecord:
    """A settlement on the spot: agreed there and then, so no agreement to fulfil and no mediation case."""
    filed_at = profile.filed_at if profile else None
    return OutcomeRecord(
        case_id=None, case_no=settlement.case_no, complaint_id=settlement.complaint_id,
        region_code=settlement.region_code, merchant_id=settlement.merchant_id,
        sector=profile.sector if profile else None, status=CaseStatus.SETTLED.value, stage=STATION_STAGE,
        opened_at=filed_at or settlement.settled_at, filed_at=filed_at, closed_at=settlement.settled_at,
        days_to_close=(local_date(settlement.settled_at) - local_date(filed_at or settlement.settled_at)).days,
        requested=Remedy(type=profile.request_type if profile else None,
                         amount_fen=profile.request_amount_fen if profile else None),
        agreed=Remedy(type=None, amount_fen=settlement.amount_fen), settled_by=SettledBy.STATION,
        mediator_id=str(settlement.station_id), termination_ground=None, fulfilment=None,
        rating=profile.rating if profile else None, signals=[])


async def list_outcomes(session: AsyncSession, *, principal: Principal, region: str, merchant_id: uuid.UUID | None,
                        before_id: uuid.UUID | None, limit: int) -> Page:
    """Closed cases of the region and below and the complaints its stations settled on the spot, newest first.

    Both are keyed by UUIDv7 (the case's id, the complaint's id for a station's settlement), so one cursor pages
    through the two: a page of each after the cursor, merged, cut to the limit."""
    require_auditor(principal, region)
    query = _outcome_query().where(_in_region(MediationCase.region_code, region))
    stations = (select(StationSettlement, ComplaintProfile)
                .outerjoin(ComplaintProfile, ComplaintProfile.complaint_id == StationSettlement.complaint_id)
                .where(_in_region(StationSettlement.region_code, region)))
    if merchant_id is not None:
        query = query.where(MediationCase.merchant_id == merchant_id)
        stations = stations.where(StationSettlement.merchant_id == merchant_id)
    if before_id is not None:
        query = query.where(MediationCase.id < before_id)
        stations = stations.where(StationSettlement.complaint_id < before_id)
    cases = list(await session.execute(query.order_by(MediationCase.id.desc()).limit(limit + 1)))
    settled_on_spot = list(await session.execute(
        stations.order_by(StationSettlement.complaint_id.desc()).limit(limit + 1)))
    signals = await _signals_by_case(session, [row[0].id for row in cases])
    merged: list[tuple[uuid.UUID, OutcomeRecord]] = [
        *((case.id, _record(case, agreement, profile, signals.get(case.id, []))) for case, agreement, profile in cases),
        *((settlement.complaint_id, _station_record(settlement, profile)) for settlement, profile in settled_on_spot)]
    merged.sort(key=lambda keyed: keyed[0], reverse=True)
    page = merged[:limit]
    return Page(items=[record for _, record in page], last_id=page[-1][0] if len(merged) > limit else None)


async def get_outcome(session: AsyncSession, *, principal: Principal, case_id: uuid.UUID) -> OutcomeRecord:
    """One closed case's record; 404 for an open case or one outside the caller's regions."""
    row = (await session.execute(_outcome_query().where(MediationCase.id == case_id))).one_or_none()
    if row is None or not principal.governs(row[0].region_code):
        raise Problem("not-found", "No such closed case")
    require_auditor(principal, row[0].region_code)
    signals = await _signals_by_case(session, [case_id])
    case, agreement, profile = row
    return _record(case, agreement, profile, signals.get(case_id, []))


# Signals


async def list_signals(session: AsyncSession, *, principal: Principal, region: str, kind: SignalKind | None,
                       case_id: uuid.UUID | None, before_id: uuid.UUID | None, limit: int) -> Page:
    """Signals raised on cases of the region and below, newest first."""
    require_auditor(principal, region)
    query = (select(OutcomeSignal, MediationCase.case_no, MediationCase.complaint_id)
             .join(MediationCase, MediationCase.id == OutcomeSignal.case_id)
             .where(_in_region(OutcomeSignal.region_code, region)))
    if kind is not None:
        query = query.where(OutcomeSignal.kind == kind.value)
    if case_id is not None:
        query = query.where(OutcomeSignal.case_id == case_id)
    if before_id is not None:
        query = query.where(OutcomeSignal.id < before_id)
    rows, last_id = await _page(session, query, OutcomeSignal.id, limit)
    return Page(items=[SignalRead(id=signal.id, case_id=signal.case_id, case_no=case_no, complaint_id=complaint_id,
                                  region_code=signal.region_code, merchant_id=signal.merchant_id,
                                  signal=SignalKind(signal.kind), detail=signal.detail, raised_at=signal.raised_at,
                                  review_id=signal.review_id)
                       for signal, case_no, complaint_id in rows], last_id=last_id)


# Thresholds


def _values(values: dict[str, Any]) -> ThresholdValues:
    bp = values.get("low_settlement_bp")
    return ThresholdValues(**{name: value for name, value in values.items() if name != "low_settlement_bp"},
                           low_settlement_share=bp / 10_000 if bp is not None else None)


async def read_thresholds(session: AsyncSession, *, principal: Principal, region: str) -> ThresholdsRead:
    """The region's effective thresholds, where each comes from, its own settings and the rules."""
    require_auditor(principal, region)
    resolved = await thresholds.resolve(session, region)
    effective = {name: getattr(resolved.values, name) for name in thresholds.NAMES}
    sources = {("low_settlement_share" if name == "low_settlement_bp" else name): source
               for name, source in resolved.sources.items()}
    return ThresholdsRead(region=region, effective=_values(effective), sources=sources, own=_values(resolved.own),
                          rules=RULES)


async def set_thresholds(session: AsyncSession, *, principal: Principal, region: str, body: ThresholdValues,
                         now: datetime) -> ThresholdsRead:
    """Replace the region's own settings (omitted = inherited); regions below inherit what they do not set."""
    require_auditor(principal, region)
    if not regions.is_known(region):
        raise Problem("validation-error", errors=[{"field": "query.region", "message": "Unknown region",
                                                   "code": "region_unknown"}])
    values = body.model_dump(exclude={"low_settlement_share"})
    if body.low_settlement_share is not None:
        values["low_settlement_bp"] = round(body.low_settlement_share * 10_000)
    async with session.begin():
        await thresholds.set_own(session, region_code=region, values=values, by=principal.sub, at=now)
    return await read_thresholds(session, principal=principal, region=region)


# The review queue


async def _items(session: AsyncSession, reviews: list[tuple[AuditReview, str, uuid.UUID]],
                 cipher: PiiCipher) -> list[ReviewItemRead]:
    kinds: dict[uuid.UUID, list[SignalKind]] = defaultdict(list)
    if reviews:
        for review_id, kind in (await session.execute(
                select(OutcomeSignal.review_id, OutcomeSignal.kind)
                .where(OutcomeSignal.review_id.in_([review.id for review, _, _ in reviews]))
                .order_by(OutcomeSignal.id))).all():
            if review_id is not None:
                kinds[review_id].append(SignalKind(kind))
    return [ReviewItemRead(
        id=review.id, case_id=review.case_id, case_no=case_no, complaint_id=complaint_id,
        region_code=review.region_code, merchant_id=review.merchant_id, queued_at=review.queued_at,
        sampled=review.sample_id is not None, sample_id=review.sample_id, signals=kinds.get(review.id, []),
        outcome=ReviewOutcome(review.outcome) if review.outcome else None,
        note=opened_review_note(cipher, "audit_review", review.id, review.note_enc),
        reviewed_at=review.reviewed_at, reviewed_by=review.reviewed_by, chain_seq=review.chain_seq)
        for review, case_no, complaint_id in reviews]


def _with_case() -> Select[AuditReview, str, uuid.UUID]:
    return (select(AuditReview, MediationCase.case_no, MediationCase.complaint_id)
            .join(MediationCase, MediationCase.id == AuditReview.case_id))


async def list_queue(session: AsyncSession, *, principal: Principal, region: str, state: QueueState | None,
                     signal: SignalKind | None, sampled: bool | None, before_id: uuid.UUID | None,
                     limit: int, cipher: PiiCipher) -> Page:
    """Review items of the region and below, newest first: open ones, reviewed ones, or both; those raised by one
    signal; those drawn by the Art. 26 sample (or not)."""
    require_auditor(principal, region)
    query = _with_case().where(_in_region(AuditReview.region_code, region))
    if signal is not None:
        query = query.where(select(OutcomeSignal.id).where(OutcomeSignal.review_id == AuditReview.id,
                                                           OutcomeSignal.kind == signal.value).exists())
    if sampled is not None:
        query = query.where(AuditReview.sample_id.is_not(None) if sampled else AuditReview.sample_id.is_(None))
    if state is QueueState.OPEN:
        query = query.where(AuditReview.reviewed_at.is_(None))
    elif state is QueueState.REVIEWED:
        query = query.where(AuditReview.reviewed_at.is_not(None))
    if before_id is not None:
        query = query.where(AuditReview.id < before_id)
    rows, last_id = await _page(session, query, AuditReview.id, limit)
    return Page(items=await _items(session, rows, cipher), last_id=last_id)


async def get_review(session: AsyncSession, *, principal: Principal, review_id: uuid.UUID,
                     cipher: PiiCipher) -> ReviewItemRead:
    row = (await session.execute(_with_case().where(AuditReview.id == review_id))).one_or_none()
    if row is None or not principal.governs(row[0].region_code):
        raise Problem("not-found", NOT_FOUND)
    require_auditor(principal, row[0].region_code)
    return (await _items(session, [row], cipher))[0]


# Art. 26 sample results, for a sample the reviewer's outcome also answers.
_SAMPLE_RESULT = {ReviewOutcome.CONFIRMED: "satisfactory"}


async def record_outcome(session: AsyncSession, *, outbox: Outbox, cipher: PiiCipher, principal: Principal,
                         review_id: uuid.UUID, outcome: ReviewOutcome, note: str | None,
                         now: datetime) -> ReviewItemRead:
    """Record the reviewer's outcome, append it to the region's audit chain and tell the enterprise's scorecard
    (`mediation.case.reviewed.v1`); 409 once recorded."""
    async with session.begin():
        review = (await session.execute(select(AuditReview).where(AuditReview.id == review_id).with_for_update()
                                        .execution_options(populate_existing=True))).scalar_one_or_none()
        if review is None or not principal.governs(review.region_code):
            raise Problem("not-found", NOT_FOUND)
        require_auditor(principal, review.region_code)
        if review.reviewed_at is not None:
            raise Problem("conflict", "The review's outcome was already recorded", outcome=review.outcome)
        case = await load_case(session, review.case_id)
        kinds = sorted(set((await session.execute(select(OutcomeSignal.kind)
                                                  .where(OutcomeSignal.review_id == review.id))).scalars()))
        entry = await chain.append(session, region_code=case.region_code, case_id=case.id, kind=chain.REVIEWED, at=now,
                                   details={"complaint_id": str(case.complaint_id), "review_id": str(review.id),
                                            "outcome": outcome.value, "signals": kinds,
                                            "sampled": review.sample_id is not None, "note": note,
                                            "reviewer": principal.sub}, cipher=cipher)
        review.outcome, review.reviewed_at, review.reviewed_by = outcome.value, now, principal.sub
        review.note_enc = sealed_review_note(cipher, "audit_review", review.id, note)
        review.chain_seq = entry.seq
        if review.sample_id is not None:
            sample = await session.get(CaseReview, review.sample_id, with_for_update=True)
            if sample is not None and sample.reviewed_at is None:
                sample.method = "follow_up_call" if outcome is ReviewOutcome.CONSUMER_CALLED_BACK else "spot_check"
                sample.outcome = _SAMPLE_RESULT.get(outcome, "issues_found")
                sample.reviewed_at, sample.reviewed_by = now, principal.sub
                sample.note_enc = sealed_review_note(cipher, "case_review", sample.id, note)
        await trail.record(session, case, kind="audit_reviewed", actor=Actor("regulator", principal.sub), at=now,
                           details={"review_id": str(review.id), "outcome": outcome.value, "signals": kinds,
                                    "chain_seq": entry.seq})
        await outbox.add(session, CaseReviewed(
            **trail.event_fields(case, now), review_id=review.id, outcome=outcome.value,
            finding=outcome is not ReviewOutcome.CONFIRMED, signals=kinds, sampled=review.sample_id is not None,
        ).envelope(source=EVENT_SOURCE))
        await session.flush()
    return await get_review(session, principal=principal, review_id=review_id, cipher=cipher)


# Figures per period


async def figures(session: AsyncSession, *, principal: Principal, region: str, start: date,
                  end: date) -> PeriodFigures:
    """Reviews recorded and signals raised in the region and below between two local dates (both included)."""
    require_auditor(principal, region)
    if end < start:
        raise Problem("validation-error", errors=[{"field": "query.to", "message": "Before `from`",
                                                   "code": "period_reversed"}])
    # Asia/Shanghai keeps no daylight saving time: a local day is 24 hours.
    lower, upper = end_of_day(start) - timedelta(days=1), end_of_day(end)
    reviews = (await session.execute(
        select(AuditReview.merchant_id, AuditReview.case_id, AuditReview.outcome)
        .where(_in_region(AuditReview.region_code, region), AuditReview.reviewed_at.is_not(None),
               AuditReview.reviewed_at >= lower, AuditReview.reviewed_at < upper))).all()
    raised = (await session.execute(
        select(OutcomeSignal.merchant_id, OutcomeSignal.kind, func.count())
        .where(_in_region(OutcomeSignal.region_code, region), OutcomeSignal.raised_at >= lower,
               OutcomeSignal.raised_at < upper)
        .group_by(OutcomeSignal.merchant_id, OutcomeSignal.kind))).all()
    per_merchant_cases: dict[uuid.UUID | None, set[uuid.UUID]] = defaultdict(set)
    per_merchant_outcomes: dict[uuid.UUID | None, Counter[str]] = defaultdict(Counter)
    per_merchant_signals: dict[uuid.UUID | None, Counter[str]] = defaultdict(Counter)
    for merchant_id, case_id, outcome in reviews:
        per_merchant_cases[merchant_id].add(case_id)
        per_merchant_outcomes[merchant_id][str(outcome)] += 1
    for merchant_id, kind, count in raised:
        per_merchant_signals[merchant_id][kind] += count
    outcomes = Counter(str(outcome) for _, _, outcome in reviews)
    signals = Counter[str]()
    for counter in per_merchant_signals.values():
        signals.update(counter)
    merchants = sorted(set(per_merchant_cases) | set(per_merchant_signals), key=lambda value: str(value))
    return PeriodFigures(
        region=region, from_=start, to=end, cases_reviewed=len({case_id for _, case_id, _ in reviews}),
        outcomes=_count_all(ReviewOutcome, outcomes),
        findings=sum(count for outcome, count in outcomes.items() if outcome != ReviewOutcome.CONFIRMED.value),
        signals_raised=_count_all(SignalKind, signals),
        enterprises=[EnterpriseFigures(merchant_id=merchant_id, cases_reviewed=len(per_merchant_cases[merchant_id]),
                                       outcomes=_count_all(ReviewOutcome, per_merchant_outcomes[merchant_id]),
                                       signals_raised=_count_all(SignalKind, per_merchant_signals[merchant_id]))
                     for merchant_id in merchants])


def _count_all(enum: Any, counter: Counter[str]) -> dict[Any, int]:
    return {member: counter.get(member.value, 0) for member in enum}

