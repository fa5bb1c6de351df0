"""Messages, read receipts and the live stream of a case, for every participant."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import APIRouter, Request, Response, UploadFile, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.cases.access import load_case_for
from mediation.dependencies import AttachmentStore, Feed, OutboxDep, Sessionmaker, SettingsDep
from mediation.live import CaseFeed
from mediation.messages import attachments
from mediation.messages import service as messages_service
from mediation.messages.models import CaseMessage, filename_of
from mediation.messages.schemas import (
    AttachmentRead,
    MessageCreate,
    MessageRead,
    ReadReceiptCreate,
    ReadReceiptRead,
    attachment_read,
    message_read,
    receipt_read,
)
from mediation.settings import MediationSettings
from servicekit.auth import ConsumerPrincipal, MerchantPrincipal, Principal, RegulatorPrincipal
from servicekit.db import utcnow
from servicekit.dependencies import Cipher, DbSession
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.sse import EventStream, ServerSentEvent
from servicekit.uploads import LocalDiskStore

router = APIRouter(prefix="/v1", tags=["messages"])

PING_SECONDS = 15
MULTIPART_OVERHEAD_BYTES = 16 * 1024

UPLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    413: {"description": "Larger than the limit (5 MB by default)"},
    415: {"description": "Not a JPEG, PNG, WebP or PDF file, or the name's extension lies"},
}
DOWNLOAD_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The file, with its sniffed content type"},
}


async def _post(case_id: uuid.UUID, body: MessageCreate, principal: Principal, session: AsyncSession,
                outbox: Outbox, cipher: PiiCipher) -> MessageRead:
    message, attached = await messages_service.post_message(
        session, outbox=outbox, cipher=cipher, case_id=case_id, principal=principal, text=body.text,
        attachment_ids=body.attachment_ids, now=utcnow())
    return message_read(message, attached, cipher)


async def _upload(request: Request, case_id: uuid.UUID, file: UploadFile, principal: Principal,
                  session: AsyncSession, store: LocalDiskStore, settings: MediationSettings,
                  cipher: PiiCipher) -> AttachmentRead:
    limit = settings.attachment_max_bytes
    declared = request.headers.get("content-length")
    # The multipart envelope adds a few hundred bytes; anything far past the limit is refused before parsing.
    if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise attachments.too_large(limit)
    name = attachments.usable_filename(file.filename)
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise attachments.too_large(limit)
    attachment = await attachments.upload(session, cipher, store=store, case_id=case_id, principal=principal,
                                          filename=name, content=content, now=utcnow())
    return attachment_read(attachment, cipher)


async def _download(case_id: uuid.UUID, attachment_id: uuid.UUID, principal: Principal, session: AsyncSession,
                    store: LocalDiskStore, cipher: PiiCipher) -> Response:
    attachment, content = await attachments.download(session, store=store, case_id=case_id, principal=principal,
                                                     attachment_id=attachment_id)
    return Response(content, media_type=attachment.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename_of(attachment, cipher))}",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{attachment.sha256}"',
    })


async def _read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: Principal,
                session: AsyncSession) -> ReadReceiptRead:
    marker = await messages_service.mark_read(session, case_id=case_id, principal=principal, up_to=body.up_to,
                                              now=utcnow())
    return receipt_read(marker)


async def _notices(feed: CaseFeed, sessionmaker: async_sessionmaker[AsyncSession],
                   case_id: uuid.UUID, cipher: PiiCipher) -> AsyncIterator[ServerSentEvent]:
    with feed.subscribe(case_id) as queue:
        await feed.listening.wait()
        yield ServerSentEvent(event="ready", data=json.dumps({"case_id": str(case_id)}))
        while True:
            notice = await queue.get()
            if notice["kind"] == "message":
                async with sessionmaker() as session:
                    message = await session.get(CaseMessage, uuid.UUID(notice["ref"]))
                    attached = await attachments.of_message(session, message.id) if message is not None else []
                if message is not None:
                    notice = {**notice, "message": message_read(message, attached, cipher).model_dump(mode="json")}
            yield ServerSentEvent(event=notice["kind"], data=json.dumps(notice, ensure_ascii=False))


async def _stream(case_id: uuid.UUID, principal: Principal, session: AsyncSession, feed: CaseFeed,
                  sessionmaker: async_sessionmaker[AsyncSession], cipher: PiiCipher) -> EventStream:
    await load_case_for(session, case_id, principal)
    # The stream may stay open for hours; it must not hold a pooled connection meanwhile.
    await session.close()
    return EventStream(_notices(feed, sessionmaker, case_id, cipher), ping_seconds=PING_SECONDS)


@router.post("/consumer/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def consumer_post_message(case_id: uuid.UUID, body: MessageCreate, principal: ConsumerPrincipal,
                                session: DbSession, outbox: OutboxDep, cipher: Cipher) -> MessageRead:
    """Text up to 4,000 characters; every participant's stream shows it."""
    return await _post(case_id, body, principal, session, outbox, cipher)


@router.post("/merchant/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def merchant_post_message(case_id: uuid.UUID, body: MessageCreate, principal: MerchantPrincipal,
                                session: DbSession, outbox: OutboxDep, cipher: Cipher) -> MessageRead:
    """Text up to 4,000 characters; every participant's stream shows it."""
    return await _post(case_id, body, principal, session, outbox, cipher)


@router.post("/regulator/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED, summary="Write to the case")
async def regulator_post_message(case_id: uuid.UUID, body: MessageCreate, principal: RegulatorPrincipal,
                                 session: DbSession, outbox: OutboxDep, cipher: Cipher) -> MessageRead:
    """The mediator or regulator staff of the region write to both parties."""
    return await _post(case_id, body, principal, session, outbox, cipher)


@router.post("/consumer/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def consumer_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: ConsumerPrincipal,
                             session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.post("/merchant/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def merchant_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: MerchantPrincipal,
                             session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.post("/regulator/cases/{case_id}/messages/read", summary="Read receipt up to a message")
async def regulator_mark_read(case_id: uuid.UUID, body: ReadReceiptCreate, principal: RegulatorPrincipal,
                              session: DbSession) -> ReadReceiptRead:
    """Moves forward only."""
    return await _read(case_id, body, principal, session)


@router.get("/consumer/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)",
            response_class=EventStream, status_code=200)
async def consumer_stream(case_id: uuid.UUID, principal: ConsumerPrincipal, session: DbSession, feed: Feed,
                          sessionmaker: Sessionmaker, cipher: Cipher) -> EventStream:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker, cipher)


@router.get("/merchant/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)",
            response_class=EventStream, status_code=200)
async def merchant_stream(case_id: uuid.UUID, principal: MerchantPrincipal, session: DbSession, feed: Feed,
                          sessionmaker: Sessionmaker, cipher: Cipher) -> EventStream:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker, cipher)


@router.get("/regulator/cases/{case_id}/stream", summary="Server-sent events of the case (messages, offers, status)",
            response_class=EventStream, status_code=200)
async def regulator_stream(case_id: uuid.UUID, principal: RegulatorPrincipal, session: DbSession, feed: Feed,
                           sessionmaker: Sessionmaker, cipher: Cipher) -> EventStream:
    """`ready` once subscribed, then `message`, `offer`, `read` and `status` events."""
    return await _stream(case_id, principal, session, feed, sessionmaker, cipher)


@router.post("/consumer/cases/{case_id}/attachments", status_code=status.HTTP_201_CREATED,
             summary="Upload an attachment to the case", responses=UPLOAD_RESPONSES)
async def consumer_upload_attachment(request: Request, case_id: uuid.UUID, file: UploadFile,
                                     principal: ConsumerPrincipal, session: DbSession, store: AttachmentStore,
                                     settings: SettingsDep, cipher: Cipher) -> AttachmentRead:
    """Multipart form field `file`: JPEG, PNG, WebP or PDF (sniffed from the content, and the name's extension
    must agree), 5 MB at most; a message then carries it through `attachment_ids`."""
    return await _upload(request, case_id, file, principal, session, store, settings, cipher)


@router.get("/consumer/cases/{case_id}/attachments/{attachment_id}", summary="Download an attachment of the case",
            response_class=Response, responses=DOWNLOAD_RESPONSES)
async def consumer_download_attachment(case_id: uuid.UUID, attachment_id: uuid.UUID, principal: ConsumerPrincipal,
                                       session: DbSession, store: AttachmentStore, cipher: Cipher) -> Response:
    """Only for participants of the case."""
    return await _download(case_id, attachment_id, principal, session, store, cipher)


@router.post("/merchant/cases/{case_id}/attachments", status_code=status.HTTP_201_CREATED,
             summary="Upload an attachment to the case", responses=UPLOAD_RESPONSES)
async def merchant_upload_attachment(request: Request, case_id: uuid.UUID, file: UploadFile,
                                     principal: MerchantPrincipal, session: DbSession, store: AttachmentStore,
                                     settings: SettingsDep, cipher: Cipher) -> AttachmentRead:
    """Multipart form field `file`: JPEG, PNG, WebP or PDF (sniffed from the content, and the name's extension
    must agree), 5 MB at most; a message then carries it through `attachment_ids`."""
    return await _upload(request, case_id, file, principal, session, store, settings, cipher)


@router.get("/merchant/cases/{case_id}/attachments/{attachment_id}", summary="Download an attachment of the case",
            response_class=Response, responses=DOWNLOAD_RESPONSES)
async def merchant_download_attachment(case_id: uuid.UUID, attachment_id: uuid.UUID, principal: MerchantPrincipal,
                                       session: DbSession, store: AttachmentStore, cipher: Cipher) -> Response:
    """Only for participants of the case."""
    return await _download(case_id, attachment_id, principal, session, store, cipher)


@router.post("/regulator/cases/{case_id}/attachments", status_code=status.HTTP_201_CREATED,
             summary="Upload an attachment to the case", responses=UPLOAD_RESPONSES)
async def regulator_upload_attachment(request: Request, case_id: uuid.UUID, file: UploadFile,
                                      principal: RegulatorPrincipal, session: DbSession, store: AttachmentStore,
                                      settings: SettingsDep, cipher: Cipher) -> AttachmentRead:
    """Multipart form field `file`: JPEG, PNG, WebP or PDF (sniffed from the content, and the name's extension
    must agree), 5 MB at most; a message then carries it through `attachment_ids`."""
    return await _upload(request, case_id, file, principal, session, store, settings, cipher)


@router.get("/regulator/cases/{case_id}/attachments/{attachment_id}", summary="Download an attachment of the case",
            response_class=Response, responses=DOWNLOAD_RESPONSES)
async def regulator_download_attachment(case_id: uuid.UUID, attachment_id: uuid.UUID, principal: RegulatorPrincipal,
                                        session: DbSession, store: AttachmentStore, cipher: Cipher) -> Response:
    """Only for participants of the case."""
    return await _download(case_id, attachment_id, principal, session, store, cipher)
