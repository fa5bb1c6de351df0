"""Regulators' sampling of closed cases for spot checks and follow-up calls (Order 121 Art. 26), and the review
queue both the samples and the outcome signals feed (`queue_case`, called inside their transactions)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.audit.models import AuditReview, CaseReview, sealed_review_note
from mediation.audit.schemas import ReviewResultCreate
from mediation.cases import trail
from mediation.cases.access import Actor, load_case
from mediation.cases.models import MediationCase
from mediation.cases.state import FINAL
from servicekit import regions
from servicekit.auth import Principal
from servicekit.db import new_id
from servicekit.pii import PiiCipher
from servicekit.problems import Problem


def require_governs(principal: Principal, region: str) -> None:
    """Staff act on their own region and those below it only."""
    if not principal.governs(region):
        raise Problem("forbidden", f"The token does not govern region {region}")


async def sample_closed_cases(session: AsyncSession, *, principal: Principal, region: str, size: int,
                              now: datetime) -> list[CaseReview]:
    """Draw up to `size` closed, not yet sampled cases of the region (and below) at random."""
    require_governs(principal, region)
    async with session.begin():
        candidates = (select(MediationCase.id, MediationCase.region_code)
                      .where(MediationCase.status.in_([status.value for status in FINAL]),
                             MediationCase.region_code.startswith(regions.prefix(region)),
                             ~select(CaseReview.id).where(CaseReview.case_id == MediationCase.id).exists())
                      .order_by(func.random()).limit(size))
        drawn = (await session.execute(candidates)).all()
        if not drawn:
            return []
        inserted = await session.execute(
            insert(CaseReview).values([{"id": new_id(), "case_id": row.id, "region_code": row.region_code,
                                        "sampled_at": now, "sampled_by": principal.sub} for row in drawn])
            .on_conflict_do_nothing(index_elements=[CaseReview.case_id]).returning(CaseReview.id))
        ids = list(inserted.scalars())
        reviews = list((await session.execute(select(CaseReview).where(CaseReview.id.in_(ids))
                                              .order_by(CaseReview.id))).scalars())
        for review in reviews:
            # The Art. 26 sample feeds the same review queue as the signals.
            await queue_case(session, await load_case(session, review.case_id), at=now, sample_id=review.id)
        return reviews


async def record_result(session: AsyncSession, cipher: PiiCipher, *, principal: Principal, review_id: uuid.UUID,
                        result: ReviewResultCreate, now: datetime) -> CaseReview:
    """Record how the check or call went; 409 if it was already recorded."""
    async with session.begin():
        review = (await session.execute(select(CaseReview).where(CaseReview.id == review_id).with_for_update()
                                        .execution_options(populate_existing=True))).scalar_one_or_none()
        if review is None or not principal.governs(review.region_code):
            raise Problem("not-found", "No such review")
        if review.reviewed_at is not None:
            raise Problem("conflict", "The review result was already recorded")
        review.method, review.outcome = result.method.value, result.outcome.value
        review.note_enc = sealed_review_note(cipher, "case_review", review.id, result.note)
        review.reviewed_at, review.reviewed_by = now, principal.sub
        case = await load_case(session, review.case_id)
        await trail.record(session, case, kind="reviewed", actor=Actor("regulator", principal.sub), at=now, details={
            "review_id": str(review.id), "method": result.method.value, "outcome": result.outcome.value})
        return review


async def list_reviews(session: AsyncSession, *, principal: Principal, region: str) -> list[CaseReview]:
    """The region's samples, newest first."""
    require_governs(principal, region)
    return list((await session.execute(
        select(CaseReview).where(CaseReview.region_code.startswith(regions.prefix(region)))
        .order_by(CaseReview.id.desc()).limit(500))).scalars())


async def queue_case(session: AsyncSession, case: MediationCase, *, at: datetime,
                  sample_id: uuid.UUID | None = None) -> uuid.UUID:
    """The case's open review item, created if it has none; a sample is linked to it."""
    inserted = await session.execute(
        insert(AuditReview).values(id=new_id(), case_id=case.id, region_code=case.region_code,
                                   merchant_id=case.merchant_id, queued_at=at, sample_id=sample_id)
        .on_conflict_do_nothing(index_elements=[AuditReview.case_id], index_where=AuditReview.reviewed_at.is_(None))
        .returning(AuditReview.id))
    review_id = inserted.scalar_one_or_none()
    if review_id is not None:
        return review_id
    review_id = (await session.execute(select(AuditReview.id).where(
        AuditReview.case_id == case.id, AuditReview.reviewed_at.is_(None)))).scalar_one()
    if sample_id is not None:
        await session.execute(update(AuditReview).where(AuditReview.id == review_id, AuditReview.sample_id.is_(None))
                              .values(sample_id=sample_id))
    return review_id
