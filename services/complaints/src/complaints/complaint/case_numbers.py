"""Human case numbers: TS- (complaint), JB- (report) or ZX- (consultation) <region>-<YYYYMMDD local>-<6-digit
sequence per prefix, region and day>.

Numbers are gap-free and unique: the counter row of (prefix, region, day) is incremented in the filing's own
transaction and stays locked until it commits, so a rejected filing gives its number back. Every filing of a region
and day waits for that lock, so it is held as briefly as can be: a filing writes its case row and everything staged
with it (timeline, clocks, outbox events and the text messages they owe, the stored idempotent response) in one
statement that takes the number first and writes it into the case row, its events and the response
(`write_filing`; the rows pointing at the case have foreign keys checked at commit). A filing with nothing else to
write is that statement alone, its own transaction, so the commit follows it with no round trip between. A case row
written before its number (a consultation's) gets it by an update instead (`take_number`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Date, Integer, String, Table, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from complaints.complaint.models import Complaint, ComplaintEvent
from complaints.database import Base, outbox
from complaints.deadline.models import Deadline
from complaints.idempotency import idempotency_key
from servicekit.notify import notify_after_commit

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
event_table: Table = ComplaintEvent.__table__  # type: ignore[assignment]
clock_table: Table = Deadline.__table__  # type: ignore[assignment]

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
_TAKE_NUMBER_IN: dict[str, TextClause] = {}


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


# A whole filing in one statement: the rows come as JSON documents (one parameter per table, whatever the number of
# rows), so the statement's text depends only on the columns, and it is prepared once per connection. The counter
# is taken first (every row that carries the number reads it), so idempotent twins, which take the same counter,
# meet there and then on the key's primary key, always in that order. The data-modifying CTEs all run whether
# read or not. The clocks are joined to the inserted cases, so the case rows are written before them: the case's
# queue trigger then finds no clock and keeps the `queue_due_at` the filing computed, and the clock's trigger checks
# it once at the end of the statement (migrations 0021, 0022), where in any other order both would compute it.
_FILING = """
WITH numbers AS (
    SELECT * FROM jsonb_to_recordset(CAST(:numbers AS jsonb)) AS number(case_id uuid, prefix text, region_code text,
                                                                        day date)
), taken AS (
    INSERT INTO {case_number_counter} AS counter (prefix, region_code, day, last_value)
    SELECT prefix, region_code, day, 1 FROM numbers
    ON CONFLICT (prefix, region_code, day) DO UPDATE SET last_value = counter.last_value + 1
    RETURNING counter.prefix, counter.region_code, counter.day,
              concat_ws('-', counter.prefix, counter.region_code, to_char(counter.day, 'YYYYMMDD'),
                        lpad(counter.last_value::text, greatest(6, length(counter.last_value::text)), '0'))
              AS case_no
), numbered AS (
    SELECT numbers.case_id, taken.case_no FROM numbers JOIN taken USING (prefix, region_code, day)
), cases AS (
    INSERT INTO {case_table} ({case_columns}, case_no)
    SELECT {case_values}, numbered.case_no
    FROM jsonb_populate_recordset(NULL::{case_table}, CAST(:cases AS jsonb)) AS staged
    JOIN numbered ON numbered.case_id = staged.id
    RETURNING id
), timeline AS (
    INSERT INTO {timeline_table} ({timeline_columns})
    SELECT {timeline_columns} FROM jsonb_populate_recordset(NULL::{timeline_table}, CAST(:timeline AS jsonb))
), clocks AS (
    INSERT INTO {clock_table} ({clock_columns})
    SELECT {clock_values} FROM jsonb_populate_recordset(NULL::{clock_table}, CAST(:clocks AS jsonb)) AS clock
    JOIN cases ON cases.id = clock.complaint_id
), events AS (
    INSERT INTO {outbox} (id, topic, aggregate_id, event_type, headers, payload)
    SELECT event.id, event.topic, event.aggregate_id, event.event_type, event.headers,
           jsonb_set(event.payload, '{{case_no}}', to_jsonb(numbered.case_no))
    FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS event(id uuid, topic text, aggregate_id text, event_type text,
                                                            headers jsonb, payload jsonb, case_id uuid)
    JOIN numbered ON numbered.case_id = event.case_id
{messages}{answer})
SELECT numbered.case_id, numbered.case_no FROM numbered
"""
# The parts a filing without text messages or without an Idempotency-Key leaves out: PostgreSQL sets up every part
# of a statement each time it runs it, written to or not.
_MESSAGES = """), messages AS (
    INSERT INTO {message_table} ({message_columns})
    SELECT {message_columns} FROM jsonb_populate_recordset(NULL::{message_table}, CAST(:messages AS jsonb))
    ON CONFLICT (dedup_key) DO NOTHING
"""
_ANSWER = """), answer AS (
    INSERT INTO {idempotency_key} (principal_sub, key, request_hash, response_status, response_enc, case_no,
                                   created_at)
    SELECT CAST(:principal_sub AS text), CAST(:key AS text), CAST(:request_hash AS text),
           CAST(:response_status AS integer), CAST(:response_enc AS bytea), numbered.case_no,
           CAST(:answered_at AS timestamptz)
    FROM numbered WHERE numbered.case_id = CAST(:answered_id AS uuid)
"""
# (columns of the case, timeline, clock rows, the message table and columns if messages are owed, whether an answer
# is stored) -> the statement; a filing's rows always have the same columns.
_FILING_WITH: dict[tuple[object, ...], TextClause] = {}


@dataclass(frozen=True)
class Answer:
    """The idempotent response a filing stores beside its case, sealed; its case number is written in clear."""

    principal_sub: str
    key: str
    request_hash: str
    status: int
    sealed: bytes
    at: datetime
    case_id: uuid.UUID


@dataclass(frozen=True)
class StagedFiling:
    """Every row a filing writes, as dicts of column values: the case rows (their `case_no` is replaced by the number
    taken for their prefix), the timeline, the clocks, the outbox events by the case they are of, and the text
    messages they owe."""

    cases: Sequence[tuple[str, dict[str, Any]]]  # (prefix, row)
    timeline: Sequence[dict[str, Any]]
    clocks: Sequence[dict[str, Any]]
    events: Mapping[uuid.UUID, Sequence[dict[str, Any]]]  # case id -> outbox rows
    messages: Sequence[dict[str, Any]]
    # Where the messages go and the columns their rows fill, given by the outbox that stages them (`StagesMessages`).
    message_table: Table | None
    message_columns: tuple[str, ...]
    notify_channel: str
    day: date
    answer: Answer | None


async def write_filing(db: AsyncSession | AsyncConnection, staged: StagedFiling) -> dict[uuid.UUID, str]:
    """Take the numbers of the staged cases and write them and everything staged with them, the numbers in the case
    rows, their events and the stored answer; one statement and one round trip. Returns the number of each case.
    The counter rows stay locked until the transaction commits (at once, when the statement is the transaction)."""
    case_columns = tuple(name for name in staged.cases[0][1] if name != "case_no")
    timeline_columns = tuple(staged.timeline[0])
    clock_columns = tuple(staged.clocks[0])
    message_table = staged.message_table if staged.messages else None
    answer = staged.answer
    shape = (case_columns, timeline_columns, clock_columns, message_table, staged.message_columns, answer is not None)
    statement = _FILING_WITH.get(shape)
    if statement is None:
        messages = "" if message_table is None else _MESSAGES.format(
            message_table=message_table.name, message_columns=_listed(staged.message_columns))
        statement = _FILING_WITH.setdefault(shape, text(_FILING.format(
            case_number_counter=case_number_counter.name, case_table=complaint_table.name,
            case_columns=_listed(case_columns), case_values=_listed(case_columns, of="staged"),
            timeline_table=event_table.name, timeline_columns=_listed(timeline_columns),
            clock_table=clock_table.name, clock_columns=_listed(clock_columns),
            clock_values=_listed(clock_columns, of="clock"), outbox=outbox.name, messages=messages,
            answer="" if answer is None else _ANSWER.format(idempotency_key=idempotency_key.name))))
    parameters: dict[str, Any] = {
        "numbers": _json([{"case_id": row["id"], "prefix": prefix, "region_code": row["region_code"],
                           "day": staged.day} for prefix, row in staged.cases]),
        "cases": _json([row for _, row in staged.cases]),
        "timeline": _json(staged.timeline),
        "clocks": _json(staged.clocks),
        "events": _json([{**event, "case_id": case_id} for case_id, events in staged.events.items()
                         for event in events]),
    }
    if message_table is not None:
        parameters["messages"] = _json(staged.messages)
    if answer is not None:
        parameters.update(principal_sub=answer.principal_sub, key=answer.key, request_hash=answer.request_hash,
                          response_status=answer.status, response_enc=answer.sealed, answered_at=answer.at,
                          answered_id=answer.case_id)
    rows = (await db.execute(statement, parameters)).all()
    notify_after_commit(db, staged.notify_channel)
    return {row.case_id: row.case_no for row in rows}


def _listed(columns: Sequence[str], *, of: str | None = None) -> str:
    return ", ".join(f'{of}."{name}"' if of else f'"{name}"' for name in columns)


def _json_value(value: Any) -> str:
    """What orjson leaves to us: bytes in bytea's text form (jsonb_populate_recordset hands the string to its input
    function), and asyncpg's own UUIDs (read from a row)."""
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return orjson.dumps(rows, default=_json_value).decode()
