"""What an agreement's content hash covers, computed the same way when it is made and when it is verified."""

from __future__ import annotations

from typing import Any

from mediation.canonical import canonical_json, sha256_hex
from mediation.cases.models import MediationCase
from mediation.negotiation.models import SettlementAgreement


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
