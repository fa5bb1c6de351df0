"""Upload of evidence attachments; a filing then names them in `evidence_ids`."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from complaints.dependencies import Store
from complaints.evidence import service as evidence_service
from complaints.evidence.schemas import EvidenceRead
from complaints.settings import ComplaintsSettings
from servicekit.app import ServiceRuntime
from servicekit.auth import ConsumerPrincipal
from servicekit.dependencies import Cipher, DbSession, Runtime
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.uploads import FileStore

consumer_router = APIRouter(prefix="/v1/consumer/evidence", tags=["consumer: evidence"])


@consumer_router.post(
    "", status_code=201, response_model=EvidenceRead, summary="Upload an attachment",
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}},
    responses={413: {"description": "Larger than the limit (5 MB by default)"},
               415: {"description": "Not an image, PDF, audio or video file, or the name's extension lies"}},
)
async def upload_evidence(
    request: Request,
    principal: ConsumerPrincipal,
    session: DbSession,
    runtime: Runtime,
    store: Store,
    cipher: Cipher,
    filename: Annotated[str, Query(min_length=1, max_length=255)],
) -> EvidenceRead:
    """The raw file as the body. Its type is sniffed from the content (JPEG, PNG, WebP, GIF, PDF, MP4, MP3, WAV, M4A),
    and must agree with the extension of `filename`; the SHA-256 is returned and kept."""
    return await receive_upload(request, session=session, runtime=runtime, store=store, cipher=cipher,
                                owner=principal.sub, filename=filename)


async def receive_upload(request: Request, *, session: AsyncSession, runtime: ServiceRuntime, store: FileStore,
                         cipher: PiiCipher, owner: str, filename: str) -> EvidenceRead:
    """Check the size, the name and the type of the uploaded body and store it as `owner`'s unattached evidence."""
    settings = runtime.settings
    assert isinstance(settings, ComplaintsSettings)
    limit = settings.evidence_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem("payload-too-large", f"An attachment may have at most {limit} bytes",
                      errors=[{"field": "body", "message": f"larger than {limit} bytes", "code": "too_large"}])
    name = PurePath(filename.replace("\\", "/")).name
    if not name or not name.isprintable():
        raise Problem("validation-error", "The file name is not usable",
                      errors=[{"field": "query.filename", "message": "invalid file name", "code": "value_error"}])
    content = await evidence_service.read_limited(request.stream(), limit)
    row = await evidence_service.store(session, cipher, store=store, consumer_id=owner, filename=name,
                                       content=content)
    return EvidenceRead.model_validate(row)


async def stored_file(session: AsyncSession, cipher: PiiCipher, store: FileStore, complaint_id: uuid.UUID,
                      evidence_id: uuid.UUID) -> Response:
    """An attachment of the case as uploaded, with its sniffed media type (404 unless it belongs to the case); the
    caller has checked who may read the case."""
    row = await evidence_service.of_case_by_id(session, cipher, case_id=complaint_id, evidence_id=evidence_id)
    return Response(await store.get(row["storage_key"]), media_type=row["media_type"], headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(row['filename'])}",
        "X-Content-Type-Options": "nosniff", "ETag": f'"{row["sha256"]}"'})
