"""Reading a case's agreement, and what its content hash covers, computed the same way when the agreement is made
and when it is verified."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements.models import SettlementAgreement
from mediation.canonical import canonical_json, sha256_hex
from mediation.cases.models import MediationCase


async def agreement_of(session: AsyncSession, case_id: uuid.UUID) -> SettlementAgreement | None:
    """The case's settlement agreement, if it settled."""
    return (await session.execute(select(SettlementAgreement).where(SettlementAgreement.case_id == case_id)
                                  )).scalar_one_or_none()


def agreement_content(agreement: SettlementAgreement, case: MediationCase) -> dict[str, Any]:
    """What the agreement's content hash covers: the terms, the case, both consents and the mediation record."""
    return {
        "agreement_id": str(agreement.id),
        "case_id": str(case.id),
        "complaint_id": str(case.complaint_id),
        "case_no": case.case_no,
        "stage": agreement.stage,
        "terms": agreement.terms,
        "consents": {
            "consumer": {"by": agreement.consumer_consent_by, "at": agreement.consumer_consent_at.isoformat()},
            "enterprise": {"by": agreement.enterprise_consent_by, "at": agreement.enterprise_consent_at.isoformat()},
        },
        "document_no": agreement.document_no,
        "mediator_id": agreement.mediator_id,
    }


def agreement_hash(agreement: SettlementAgreement, case: MediationCase) -> str:
    """SHA-256 of the canonical JSON of the agreement's content."""
    return sha256_hex(canonical_json(agreement_content(agreement, case)))
