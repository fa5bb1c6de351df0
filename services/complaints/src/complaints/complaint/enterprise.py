"""What an ODR enterprise needs to answer a complaint: the purchase, the classification and the evidence the
consumer chose to share. Added to the events that hand a complaint to the enterprise (routed, accepted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servicekit.contracts.complaints_v1 import EvidenceForMerchant


def answer_fields(row: Mapping[str, Any], shared_evidence: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The contract fields of `ComplaintRouted` / `ComplaintAccepted` taken from the case row and its shared
    attachments. `issue_type` is filled once complaints keep one."""
    return {
        "order_no": row.get("purchase_order_no"),
        "purchase_date": row.get("purchase_date"),
        "purchase_amount_fen": row.get("purchase_amount_fen"),
        "sector": row.get("sector"),
        "category": row.get("category"),
        "evidence": [EvidenceForMerchant(id=item["id"], filename=item["filename"], media_type=item["media_type"],
                                         size_bytes=item["size_bytes"], sha256=item["sha256"])
                     for item in shared_evidence if item["shared_with_merchant"]],
    }
