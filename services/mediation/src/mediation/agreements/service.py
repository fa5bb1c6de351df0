"""Reading a case's agreement, and what its content hash covers, computed the same way when the agreement is made
and when it is verified."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.agreements.models import SettlementAgreement
from mediation.canonical import canonical_json, sha256_hex
from mediation.cases.models import MediationCase
from servicekit.pii import PiiCipher


async def agreement_of(session: AsyncSession, case_id: uuid.UUID) -> SettlementAgreement | None:
    """The case's settlement agreement, if it settled."""
    return (await session.execute(select(SettlementAgreement).where(SettlementAgreement.case_id == case_id)
                                  )).scalar_one_or_none()


def _note_context(agreement_id: uuid.UUID) -> str:
    return f"settlement_agreement:{agreement_id}:terms.note"


def sealed_terms(cipher: PiiCipher, agreement_id: uuid.UUID, terms: dict[str, Any]) -> dict[str, Any]:
    """The terms as the row keeps them: the note its maker wrote sealed (`note_sealed`, base64 AES-GCM bound to the
    agreement), the rest in clear for the outcome checks."""
    note = terms.get("note")
    kept = {key: value for key, value in terms.items() if key != "note"}
    if note is None:
        return kept | {"note": None}
    sealed = cipher.encrypt(note, context=_note_context(agreement_id))
    return kept | {"note_sealed": base64.b64encode(sealed).decode()}


def agreement_terms(agreement: SettlementAgreement, cipher: PiiCipher) -> dict[str, Any]:
    """The terms as agreed, the note opened: what parties read and what the content hash covers."""
    terms = dict(agreement.terms)
    sealed = terms.pop("note_sealed", None)
    if sealed is not None:
        terms["note"] = cipher.decrypt(base64.b64decode(sealed), context=_note_context(agreement.id))
    return terms


def agreement_content(agreement: SettlementAgreement, case: MediationCase, cipher: PiiCipher) -> dict[str, Any]:
    """What the agreement's content hash covers: the terms (in the canonical form `agreement_terms` gives, the note
    in clear, as before the note was sealed, so hashes of older agreements still hold), the case, both consents and
    the mediation record."""
    return {
        "agreement_id": str(agreement.id),
        "case_id": str(case.id),
        "complaint_id": str(case.complaint_id),
        "case_no": case.case_no,
        "stage": agreement.stage,
        "terms": agreement_terms(agreement, cipher),
        "consents": {
            "consumer": {"by": agreement.consumer_consent_by, "at": agreement.consumer_consent_at.isoformat()},
            "enterprise": {"by": agreement.enterprise_consent_by, "at": agreement.enterprise_consent_at.isoformat()},
        },
        "document_no": agreement.document_no,
        "mediator_id": agreement.mediator_id,
    }


def agreement_hash(agreement: SettlementAgreement, case: MediationCase, cipher: PiiCipher) -> str:
    """SHA-256 of the canonical JSON of the agreement's content."""
    return sha256_hex(canonical_json(agreement_content(agreement, case, cipher)))
