"""What an ODR enterprise needs to answer a complaint: the purchase, the classification and the evidence the
consumer chose to share. Added to the events that hand a complaint to the enterprise (routed, accepted)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.models import Complaint
from complaints.evidence import service as evidence_service
from complaints.evidence.service import evidence_table
from servicekit.contracts.complaints_v1 import EvidenceForMerchant
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]


def neutral_filename(evidence: Mapping[Any, Any]) -> str:
    """The name an attachment travels under in events and rests under in other services: the consumer's own file
    name can be personal data (it is kept only encrypted here); the download still carries it."""
    extension = min(evidence_service.ALLOWED[evidence["media_type"]], key=lambda name: (len(name), name))
    return f"{evidence['id']}{extension}"


def answer_fields(row: Mapping[Any, Any], shared_evidence: Sequence[Mapping[Any, Any]]) -> dict[str, Any]:
    """The contract fields of `ComplaintRouted` / `ComplaintAccepted` taken from the case row and its shared
    attachments."""
    return {
        "order_no": row.get("purchase_order_no"),
        "purchase_date": row.get("purchase_date"),
        "purchase_amount_fen": row.get("purchase_amount_fen"),
        "sector": row.get("sector"),
        "category": row.get("category"),
        "issue_type": row.get("issue_type"),
        "evidence": [EvidenceForMerchant(id=item["id"], filename=neutral_filename(item), media_type=item["media_type"],
                                         size_bytes=item["size_bytes"], sha256=item["sha256"])
                     for item in shared_evidence if item["shared_with_merchant"]],
    }


async def shared_evidence(session: AsyncSession, cipher: PiiCipher, *, case_id: uuid.UUID, evidence_id: uuid.UUID,
                          merchant_id: uuid.UUID) -> dict[str, Any]:
    """An attachment its consumer shared with the enterprise the complaint is against; 404 for anything else (another
    enterprise's complaint, a report, an attachment kept for the regulator)."""
    row = (await session.execute(
        select(evidence_table)
        .join(complaint_table, complaint_table.c.id == evidence_table.c.complaint_id)
        .where(evidence_table.c.id == evidence_id, evidence_table.c.complaint_id == case_id,
               evidence_table.c.shared_with_merchant, complaint_table.c.merchant_id == merchant_id,
               complaint_table.c.kind == "complaint")
    )).mappings().one_or_none()
    if row is None:
        raise Problem("not-found", "No such attachment shared with you")
    return evidence_service.opened(row, cipher)
