"""Importing a 12315 or 12345 export: parse, validate each row, file each valid row as its own transaction.

A row is filed whole or not at all (the complaint filing's one transaction); a ticket already filed (same source and
ticket number, across imports and within one file) is a duplicate, never a second case; a row of a region the
regulator does not govern is refused with that reason. Nothing about one row affects another.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.complaint import service as complaint_service
from complaints.complaint.enums import ActorRole
from complaints.complaint.models import Complaint
from complaints.complaint.schemas import ComplaintCreate
from complaints.complaint.state import Actor
from complaints.deadline.service import NegotiationPeriods
from complaints.imports.schemas import COLUMNS, Filed, ImportReport, ImportRow, Refusal, Source
from complaints.publisher import Publisher
from servicekit.auth import Principal, consumer_subject
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

complaint_table: Table = Complaint.__table__  # type: ignore[assignment]

MAX_ROWS = 5000


def ticket_key(source: Source, ticket_no: str) -> str:
    """The case's `source_ticket`: unique per source."""
    return f"{source.value}:{ticket_no}"


def _text_of(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB 18030 (a superset of GBK, which Chinese office software writes)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise Problem("validation-error", "The file is neither UTF-8 nor GB 18030 text",
                          errors=[{"field": "body", "message": "undecodable text", "code": "value_error"}]) from exc


def parse(content: bytes, media_type: str) -> list[dict[str, Any]]:
    """The rows of a CSV file (header row of column names) or of a JSON array of objects; 422 for a file that is
    not one, whose header misses a required column or names an unknown one, or that has more than MAX_ROWS rows."""
    if media_type == "application/json":
        try:
            rows = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise _bad_file(f"not JSON: {exc}") from exc
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise _bad_file("a JSON import is an array of objects, one per ticket")
    else:
        reader = csv.DictReader(io.StringIO(_text_of(content), newline=""))
        header = [name.strip() for name in reader.fieldnames or []]
        unknown = sorted(set(header) - set(COLUMNS))
        missing = sorted(name for name, field in ImportRow.model_fields.items()
                         if field.is_required() and name not in header)
        if unknown or missing:
            raise _bad_file(f"header: unknown columns {unknown}, missing columns {missing}")
        reader.fieldnames = header
        rows = []
        for record in reader:
            extra = record.pop(None, None)
            rows.append({**record, **({"__extra__": extra} if extra else {})})
    if len(rows) > MAX_ROWS:
        raise _bad_file(f"at most {MAX_ROWS} rows per import")
    return rows


def _bad_file(message: str) -> Problem:
    return Problem("validation-error", f"The file cannot be imported: {message}",
                   errors=[{"field": "body", "message": message, "code": "value_error"}])


@dataclass(frozen=True)
class Importer:
    source: Source
    principal: Principal
    subject_key: str
    cipher: PiiCipher
    publisher: Publisher
    negotiation_periods: NegotiationPeriods


def _refusals(number: int, error: ValidationError, *, complaint: bool) -> list[Refusal]:
    """One refusal per error; the field is the export's column (a complaint's field mapped back to its column)."""
    refused = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        field = _column(location) if complaint else (location[0] if location else None)
        refused.append(Refusal(row=number, field=field, code=problem["type"], params=_params(problem.get("ctx")),
                               reason=problem["msg"]))
    return refused


def _params(context: Mapping[str, Any] | None) -> dict[str, str | int | float]:
    """A validation error's context as wording parameters (a pattern, a length, a limit); an exception is no
    parameter a person reads."""
    return {name: value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
            for name, value in (context or {}).items() if not isinstance(value, BaseException)}


# Where a ComplaintCreate error points, in the export's column names.
_COMPLAINT_FIELDS = {
    "complainant.name": "consumer_name", "complainant.phone": "consumer_phone",
    "complainant.address": "consumer_address", "respondent.name": "business_name",
    "respondent.address": "business_address", "respondent.uscc": "business_uscc",
    "respondent.region_code": "business_region_code", "request.type": "request_type",
    "request.amount_fen": "request_amount_fen", "purchase.date": "purchase_date",
    "purchase.amount_fen": "purchase_amount_fen", "purchase.order_no": "order_no",
}


def _column(location: Sequence[str]) -> str | None:
    path = ".".join(location)
    return _COMPLAINT_FIELDS.get(path, path or None)


def _complaint(row: ImportRow, source: Source) -> ComplaintCreate:
    facts = row.facts if row.request is None else f"{row.facts}\n主要诉求：{row.request}"
    purchase = None
    if row.purchase_date is not None or row.purchase_amount_fen is not None:
        purchase = {"date": row.purchase_date, "amount_fen": row.purchase_amount_fen, "order_no": row.order_no}
    return ComplaintCreate.model_validate({
        "kind": row.kind, "green_channel": False,
        "complainant": {"name": row.consumer_name, "phone": row.consumer_phone, "address": row.consumer_address},
        "respondent": {"name": row.business_name, "address": row.business_address, "uscc": row.business_uscc,
                       "region_code": row.business_region_code},
        "request": {"type": row.request_type, "amount_fen": row.request_amount_fen},
        "facts": facts, "purchase": purchase, "sector": row.sector, "category": row.category,
        "channel": source.channel,
    })


async def _already_filed(session: AsyncSession, key: str) -> bool:
    async with session.begin():
        found = (await session.execute(
            select(complaint_table.c.id).where(complaint_table.c.source_ticket == key))).first()
    return found is not None


async def run(session: AsyncSession, importer: Importer, rows: Sequence[dict[str, Any]]) -> ImportReport:
    """File every valid new row (one transaction each) and report the rest."""
    filed: list[Filed] = []
    refused: list[Refusal] = []
    duplicates = 0
    for number, raw in enumerate(rows, start=1):
        if "__extra__" in raw:
            refused.append(Refusal(row=number, field=None, code="extra_cells",
                                   reason="more cells than the header has columns"))
            continue
        try:
            row = ImportRow.model_validate(raw)
        except ValidationError as exc:
            refused.extend(_refusals(number, exc, complaint=False))
            continue
        if not importer.principal.governs(row.business_region_code):
            refused.append(Refusal(row=number, field="business_region_code", code="region_not_governed",
                                   params={"region": row.business_region_code,
                                           "governed": importer.principal.region or ""},
                                   reason=f"region {row.business_region_code} is outside the regions you govern "
                                          f"({importer.principal.region})"))
            continue
        try:
            complaint = _complaint(row, importer.source)
        except ValidationError as exc:
            refused.extend(_refusals(number, exc, complaint=True))
            continue
        key = ticket_key(importer.source, row.ticket_no)
        if await _already_filed(session, key):
            duplicates += 1
            continue
        filing = complaint_service.Filing(
            consumer_id=consumer_subject(row.consumer_phone, importer.subject_key), body=complaint,
            idempotency_key=None, cipher=importer.cipher, publisher=importer.publisher,
            negotiation_periods=importer.negotiation_periods,
            filer=Actor(ActorRole.REGULATOR, importer.principal.sub), source_ticket=key,
            submitted_details={"source": importer.source.value, "ticket_no": row.ticket_no,
                               "received_at": row.received_at.isoformat()},
            submitted_code="imported",
        )
        try:
            stored = await complaint_service.file_complaint(session, filing)
        except IntegrityError as exc:
            if "uq_complaint_source_ticket" not in str(exc.orig):
                raise
            duplicates += 1  # a concurrent import filed it first
            continue
        except Problem as problem:
            refused.extend(Refusal(row=number, field=_column(str(error.get("field", "")).removeprefix("body.")
                                                             .split(".")),
                                   code=str(error.get("code") or problem.slug), reason=str(error.get("message")))
                           for error in problem.errors or [{"field": "", "message": problem.detail}])
            continue
        filed.append(Filed(row=number, ticket_no=row.ticket_no, id=stored.body["id"], case_no=stored.body["case_no"]))
    return ImportReport(source=importer.source, rows=len(rows), filed=len(filed), duplicates=duplicates,
                        refused=refused, cases=filed)
