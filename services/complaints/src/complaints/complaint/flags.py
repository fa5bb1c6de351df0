"""Anti-abuse signals of Order 121 Art. 17, shown to the regulator with their evidence; they never refuse anything.

- `same_phone`: other people filed with the same phone number (blind index), Art. 17(4);
- `same_address`: other people filed with the same address (blind index), Art. 17(4);
- `repeated_against_business`: one person filed many complaints against the same business in a short time, Art. 17(2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import RowMapping, Table, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.models import Complaint
from complaints.complaint.schemas import FlagRead

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
EVIDENCE_LIMIT = 20


@dataclass(frozen=True)
class FlagRules:
    """How many complaints by one person against one business, within what window, raise the repeat signal."""

    repeat_threshold: int
    window: timedelta


async def flags_of(session: AsyncSession, case: RowMapping, rules: FlagRules) -> list[FlagRead]:
    """The signals that apply to the case, each with the case numbers that raise it."""
    repeat_threshold, window = rules.repeat_threshold, rules.window
    c = complaint_table.c
    found: list[FlagRead] = []
    for code, column, what in (("same_phone", c.phone_index, "phone number"),
                               ("same_address", c.address_index, "address")):
        if case[column.name] is None:
            continue
        others = (await session.execute(
            select(c.case_no).where(column == case[column.name], c.consumer_id != case["consumer_id"])
            .order_by(c.id).limit(EVIDENCE_LIMIT)
        )).scalars().all()
        if others:
            found.append(FlagRead(code=code, detail=f"The same {what} was used by other complainants (Art. 17)",
                                  case_nos=list(others)))
    same_business = (c.merchant_id == case["merchant_id"] if case["merchant_id"] is not None
                     else and_(c.merchant_id.is_(None), c.respondent_name == case["respondent_name"]))
    repeated = (await session.execute(
        select(c.case_no).where(
            c.consumer_id == case["consumer_id"], c.kind == case["kind"], same_business,
            c.filed_at > case["filed_at"] - window, c.filed_at < case["filed_at"] + window,
        ).order_by(c.id).limit(EVIDENCE_LIMIT)
    )).scalars().all()
    if len(repeated) >= repeat_threshold:
        found.append(FlagRead(
            code="repeated_against_business",
            detail=f"{len(repeated)} complaints by the same person against this business within "
                   f"{window.days} days (Art. 17)",
            case_nos=list(repeated)))
    return found

