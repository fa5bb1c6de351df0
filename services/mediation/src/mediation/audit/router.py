"""Regulators verify the outcome chain of a region and review samples of closed cases."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from mediation.audit import chain
from mediation.audit import service as audit_service
from mediation.audit.models import CaseReview, opened_review_note
from mediation.audit.schemas import (
    BrokenEntry,
    ReviewList,
    ReviewMethod,
    ReviewRead,
    ReviewResultCreate,
    SampleResult,
    VerificationRead,
)
from servicekit.auth import RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession
from servicekit.pii import PiiCipher

router = APIRouter(prefix="/v1/regulator", tags=["audit"])

Region = Annotated[str, Query(pattern=r"^\d{6}$", description="GB/T 2260 region code")]


def review_read(review: CaseReview, cipher: PiiCipher) -> ReviewRead:
    return ReviewRead(id=review.id, case_id=review.case_id, region_code=review.region_code,
                      sampled_at=review.sampled_at, sampled_by=review.sampled_by,
                      method=ReviewMethod(review.method) if review.method else None,
                      outcome=SampleResult(review.outcome) if review.outcome else None,
                      note=opened_review_note(cipher, "case_review", review.id, review.note_enc),
                      reviewed_at=review.reviewed_at, reviewed_by=review.reviewed_by)


@router.get("/audit/verify", summary="Recompute a region's outcome chain and name its first broken entry")
async def verify_chain(region: Region, principal: RegulatorPrincipal, session: DbSession,
                       cipher: Cipher) -> VerificationRead:
    """`ok` is false when any entry's hash, link or sequence does not hold."""
    audit_service.require_governs(principal, region)
    result = await chain.verify(session, region, cipher)
    return VerificationRead(region=region, ok=result.ok, entries=result.entries,
                            first_broken=BrokenEntry(**result.first_broken) if result.first_broken else None)


@router.post("/reviews/sample", summary="Draw closed cases of a region for spot checks and follow-up calls")
async def sample_reviews(region: Region, principal: RegulatorPrincipal, session: DbSession, cipher: Cipher,
                         size: Annotated[int, Query(ge=1, le=200)] = 10) -> ReviewList:
    """Each closed case is drawn at most once."""
    reviews = await audit_service.sample_closed_cases(session, principal=principal, region=region, size=size,
                                                      now=utcnow())
    return ReviewList(items=[review_read(review, cipher) for review in reviews])


@router.get("/reviews", summary="Review samples of a region, newest first")
async def list_reviews(region: Region, principal: RegulatorPrincipal, session: DbSession,
                       cipher: Cipher) -> ReviewList:
    """Drawn samples with their results so far."""
    return ReviewList(items=[review_read(review, cipher) for review in await audit_service.list_reviews(
        session, principal=principal, region=region)])


@router.post("/reviews/{review_id}/result", summary="Record the result of a spot check or follow-up call")
async def record_review_result(review_id: uuid.UUID, body: ReviewResultCreate, principal: RegulatorPrincipal,
                               session: DbSession, cipher: Cipher) -> ReviewRead:
    """409 when a result was already recorded."""
    return review_read(await audit_service.record_result(session, cipher, principal=principal, review_id=review_id,
                                                         result=body, now=utcnow()), cipher)
