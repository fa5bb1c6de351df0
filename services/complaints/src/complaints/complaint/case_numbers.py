"""Human case numbers: TS- (complaint), JB- (report) or ZX- (consultation) <region>-<YYYYMMDD local>-<6-digit
sequence per prefix, region and day>.

Numbers are gap-free and unique: the counter row of (prefix, region, day) is incremented in the filing's own
transaction and stays locked until it commits, so a rejected filing gives its number back. Every filing of a region
and day waits for that lock, so a filing takes its number with its last statement before commit: everything staged
for the case (timeline, clocks, outbox events, the stored idempotent response) is written first, the events and the
response with a provisional number, and one statement then takes the number, writes it into them and inserts the
case row with it (`insert_numbered`; the rows pointing at the case have foreign keys checked at commit). A case row
written before its number (a consultation's) gets it by an update instead (`take_number`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, String, Table, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.models import Complaint
from complaints.database import Base, outbox
from complaints.idempotency import idempotency_key

COMPLAINT_PREFIX = "TS"  # 投诉
REPORT_PREFIX = "JB"  # 举报
CONSULTATION_PREFIX = "ZX"  # 咨询
PROVISIONAL_PREFIX = "pending-"


class CaseNumberCounter(Base):
    """The last sequence number given out per prefix, region and local day."""

    __tablename__ = "case_number_counter"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


case_number_counter: Table = CaseNumberCounter.__table__  # type: ignore[assignment]
complaint_table: Table = Complaint.__table__  # type: ignore[assignment]

# Data-modifying CTEs all run, referenced or not, and see the rows this transaction wrote before.
_TAKEN_AND_STAGED = """
WITH taken AS (
    INSERT INTO {case_number_counter.name} AS counter (prefix, region_code, day, last_value)
    VALUES (:prefix, :region_code, :day, 1)
    ON CONFLICT (prefix, region_code, day) DO UPDATE SET last_value = counter.last_value + 1
    RETURNING concat_ws('-', counter.prefix, counter.region_code, to_char(counter.day, 'YYYYMMDD'),
                        lpad(counter.last_value::text, greatest(6, length(counter.last_value::text)), '0'))
              AS case_no
), events AS (
    UPDATE {outbox.name} AS outbox SET payload = jsonb_set(outbox.payload, '{{case_no}}', to_jsonb(taken.case_no))
    FROM taken WHERE outbox.id = ANY(:event_ids)
), answer AS (
    UPDATE {idempotency_key.name} AS answer
    SET case_no = taken.case_no
    FROM taken WHERE answer.principal_sub = :principal_sub AND answer.key = :key
)"""
_TAKE_NUMBER = _TAKEN_AND_STAGED + """, numbered AS (
    UPDATE {case_table} AS numbered_case SET case_no = taken.case_no FROM taken
    WHERE numbered_case.id = :case_id
    RETURNING numbered_case.case_no
)
SELECT case_no FROM numbered
"""
_INSERT_NUMBERED = _TAKEN_AND_STAGED + """
INSERT INTO {case_table} ({columns}, case_no) VALUES ({values}, (SELECT case_no FROM taken))
RETURNING case_no
"""
_TAKE_NUMBER_IN: dict[str, TextClause] = {}
# (table, the row's columns) -> the statement inserting such a row; a filing's rows always have the same columns.
_INSERT_NUMBERED_INTO: dict[tuple[str, tuple[str, ...]], TextClause] = {}


def provisional(case_id: uuid.UUID) -> str:
    """A unique stand-in until the real number is taken; never committed."""
    return f"{PROVISIONAL_PREFIX}{case_id.hex}"


async def take_number(session: AsyncSession, *, case_id: uuid.UUID, prefix: str, region_code: str, day: date,
                      event_ids: Sequence[uuid.UUID], answer_key: tuple[str, str] | None,
                      case_table: Table = complaint_table) -> str:
    """Take the next number of (prefix, region, day) for a staged case and write it into the case row, the case's
    staged outbox events and, given its (principal, key), the stored idempotent response that answers with this
    case. The counter row stays locked until the caller commits: call this last. `case_table` holds the case (the
    complaint table, or the consultation table) and must have `id` and `case_no` columns."""
    principal_sub, key = answer_key if answer_key is not None else (None, None)
    statement = _TAKE_NUMBER_IN.get(case_table.name)
    if statement is None:
        statement = _TAKE_NUMBER_IN.setdefault(case_table.name, text(_TAKE_NUMBER.format(
            case_table=case_table.name, case_number_counter=case_number_counter, outbox=outbox,
            idempotency_key=idempotency_key)))
    case_no: str = (await session.execute(statement, {
        "prefix": prefix, "region_code": region_code, "day": day, "case_id": case_id, "event_ids": list(event_ids),
        "principal_sub": principal_sub, "key": key,
    })).scalar_one()
    return case_no


async def insert_numbered(session: AsyncSession, *, row: dict[str, Any], prefix: str, day: date,
                          event_ids: Sequence[uuid.UUID], answer_key: tuple[str, str] | None,
                          case_table: Table = complaint_table) -> str:
    """Take the next number of (prefix, the row's region, day), insert the staged case `row` with it (its own
    `case_no` is ignored) and write it into the case's staged outbox events and, given its (principal, key), the
    stored idempotent response. The counter row stays locked until the caller commits: call this last."""
    columns = tuple(name for name in row if name != "case_no")
    statement = _INSERT_NUMBERED_INTO.get((case_table.name, columns))
    if statement is None:
        statement = _INSERT_NUMBERED_INTO.setdefault((case_table.name, columns), text(_INSERT_NUMBERED.format(
            case_table=case_table.name, case_number_counter=case_number_counter, outbox=outbox,
            idempotency_key=idempotency_key, columns=", ".join(f'"{name}"' for name in columns),
            values=", ".join(f":{name}" for name in columns),
        )).bindparams(*(bindparam(name, type_=case_table.c[name].type) for name in columns)))
    principal_sub, key = answer_key if answer_key is not None else (None, None)
    case_no: str = (await session.execute(statement, {
        **{name: row[name] for name in columns}, "prefix": prefix, "region_code": row["region_code"], "day": day,
        "event_ids": list(event_ids), "principal_sub": principal_sub, "key": key,
    })).scalar_one()
    return case_no
