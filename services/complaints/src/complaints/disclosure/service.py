"""What leaves the service in bulk: the regulator's CSV export (personal data masked) and the public disclosure of
closed complaints per enterprise (Order 121 Art. 38), de-identified."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint.enums import CaseStatus, ComplaintKind, ComplaintStatus
from complaints.complaint.models import Complaint, pii_context
from complaints.deadline.enums import DeadlineKind, DeadlineState
from complaints.deadline.models import Deadline
from servicekit.calendar import end_of_day, local_date
from servicekit.pii import PiiCipher, mask_name, mask_phone

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]
deadline_table: Table = Deadline.__table__  # type: ignore[assignment]

EXPORT_BATCH = 500
EXPORT_COLUMNS = (
    "case_no", "kind", "status", "region_code", "filed_at", "closed_at", "respondent_name", "respondent_uscc",
    "merchant_id", "sector", "category", "channel", "request_type", "request_amount_fen", "recovered_fen",
    "complainant_name", "complainant_phone", "refusal_ground", "case_opened", "rating_score", "linked_case_id",
)
# Outcomes the public list shows: a complaint that ran its course with the enterprise (not refusals or withdrawals).
DISCLOSED = (ComplaintStatus.CLOSED_SETTLED, ComplaintStatus.CLOSED_TERMINATED)


def _guarded(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def conditions(self) -> list[ColumnElement[bool]]:
        return [complaint_table.c.filed_at >= end_of_day(self.start - timedelta(days=1)),
                complaint_table.c.filed_at < end_of_day(self.end)]


async def export_rows(session: AsyncSession, *, region_prefix: str, period: Period, kind: ComplaintKind | None,
                      status: CaseStatus | None, cipher: PiiCipher) -> AsyncIterator[str]:
    """CSV lines (header first) of the cases in scope, oldest first, read in batches; names and phones masked. The
    header starts with a byte-order mark, so Excel and WPS read the Chinese cells as UTF-8."""
    c = complaint_table.c
    conditions = [c.region_code.startswith(region_prefix, autoescape=True), *period.conditions()]
    if kind is not None:
        conditions.append(c.kind == kind.value)
    if status is not None:
        conditions.append(c.status == status.value)
    yield "\ufeff" + _line(EXPORT_COLUMNS)
    after: uuid.UUID | None = None
    while True:
        page = select(complaint_table).where(*conditions)
        if after is not None:
            page = page.where(c.id > after)
        rows = (await session.execute(page.order_by(c.id).limit(EXPORT_BATCH))).mappings().all()
        for row in rows:
            yield _line(_export_cells(row, cipher))
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1]["id"]


def _export_cells(row: RowMapping, cipher: PiiCipher) -> list[object]:
    name = phone = None
    if row["complainant_name_enc"] is not None:
        name = mask_name(cipher.decrypt(row["complainant_name_enc"], context=f"complaint:{row['id']}:name"))
        phone = mask_phone(cipher.decrypt(row["complainant_phone_enc"], context=f"complaint:{row['id']}:phone"))
    cells: dict[str, object] = {**row, "complainant_name": name, "complainant_phone": phone}
    return [cells[column] for column in EXPORT_COLUMNS]


def _line(cells: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_guarded(cell) for cell in cells])
    return buffer.getvalue()


@dataclass(frozen=True)
class PublicFilter:
    merchant_id: uuid.UUID | None
    region_prefix: str | None
    sector: str | None
    period: Period


async def public_page(session: AsyncSession, cipher: PiiCipher, *, scope: PublicFilter, after: uuid.UUID | None,
                      limit: int) -> Sequence[dict[str, Any]]:
    """Closed complaints, newest first, de-identified: no complainant data; facts only with the consumer's consent."""
    c = complaint_table.c
    d = deadline_table.c
    merchant_clock = (
        select(func.bool_and(d.state != DeadlineState.BREACHED.value))
        .where(d.complaint_id == c.id, d.kind == DeadlineKind.MERCHANT_NEGOTIATION.value)
        .scalar_subquery()
    )
    statement = select(
        c.id, c.case_no, c.merchant_id, c.respondent_name, c.region_code, c.sector, c.category, c.request_type,
        c.status, c.recovered_fen, c.filed_at, c.closed_at, c.disclosure_consent, c.facts_enc,
        merchant_clock.label("answered_in_time"),
    ).where(c.kind == ComplaintKind.COMPLAINT.value, c.status.in_([status.value for status in DISCLOSED]),
            *scope.period.conditions())
    if scope.merchant_id is not None:
        statement = statement.where(c.merchant_id == scope.merchant_id)
    if scope.region_prefix is not None:
        statement = statement.where(c.region_code.startswith(scope.region_prefix, autoescape=True))
    if scope.sector is not None:
        statement = statement.where(c.sector == scope.sector)
    if after is not None:
        statement = statement.where(c.id < after)
    rows = (await session.execute(statement.order_by(c.id.desc()).limit(limit))).mappings().all()
    return [
        {
            "id": row["id"], "case_no": row["case_no"], "merchant_id": row["merchant_id"],
            "respondent_name": row["respondent_name"], "region_code": row["region_code"], "sector": row["sector"],
            "category": row["category"], "request_type": row["request_type"], "outcome": row["status"],
            "recovered_fen": row["recovered_fen"], "filed_on": local_date(row["filed_at"]),
            "closed_on": local_date(row["closed_at"]), "answered_in_time": row["answered_in_time"],
            "facts": (cipher.decrypt(row["facts_enc"], context=pii_context(row["id"], "facts"))
                      if row["disclosure_consent"] else None),
        }
        for row in rows
    ]


PUBLIC_COLUMNS = ("case_no", "merchant_id", "respondent_name", "region_code", "sector", "category", "request_type",
                  "outcome", "recovered_fen", "filed_on", "closed_on", "answered_in_time", "facts")


def public_csv(items: Sequence[dict[str, Any]]) -> str:
    """A page of the public list as CSV."""
    return _line(PUBLIC_COLUMNS) + "".join(_line(item[column] for column in PUBLIC_COLUMNS) for item in items)
