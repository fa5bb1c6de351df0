"""POST /v1/regulator/imports: a 12315 or 12345 export file, filed row by row."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from complaints.dependencies import Events, negotiation_periods_of
from complaints.imports import service as import_service
from complaints.imports.schemas import COLUMNS, ImportReport, Source
from servicekit.auth import Audience, Principal, Role, require
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.problems import Problem

regulator_router = APIRouter(prefix="/v1/regulator/imports", tags=["regulator: transfers"])

# Only regulators file transfers; a mediator or station staff do not.
ImportingRegulator = Annotated[Principal, Depends(require(Audience.REGULATOR, Role.REGULATOR))]

_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string", "description": "Header row of column names, then one ticket per "
                                                                 "row; UTF-8 (BOM allowed) or GB 18030"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"},
                                        "description": "One object per ticket, keyed by the column names"}},
    },
}


@regulator_router.post(
    "", response_model=ImportReport, summary="Import transfers from 12315 or 12345 (CSV or JSON export)",
    openapi_extra={"requestBody": _BODY},
    responses={415: {"description": "Neither text/csv nor application/json"}},
    description=(
        "Files each valid row of the export as a complaint (or report) of its own, in its own transaction, with "
        "channel `transfer_12315` or `transfer_12345`; routed like any case to the regulator of the business's "
        "region. A ticket already filed from the same source is counted in `duplicates` and filed nothing; a row "
        "that fails validation, or whose region the caller does not govern, is in `refused` with the row, the "
        "column and the reason. Columns (docs/transfer-imports.md): " + ", ".join(f"`{c}`" for c in COLUMNS) + "."))
async def import_transfers(
    request: Request,
    source: Annotated[Source, Query()],
    principal: ImportingRegulator,
    session: DbSession,
    cipher: Cipher,
    runtime: Runtime,
    publisher: Events,
) -> ImportReport:
    """The import's report: filed, duplicates, refused rows with their reasons, and the cases filed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("text/csv", "application/json"):
        raise Problem("unsupported-media-type", "Send the export as text/csv or application/json")
    rows = import_service.parse(await request.body(), media_type)
    importer = import_service.Importer(
        source=source, principal=principal, subject_key=runtime.settings.subject_key.get_secret_value(),
        cipher=cipher, publisher=publisher, negotiation_periods=negotiation_periods_of(runtime))
    return await import_service.run(session, importer, rows)
