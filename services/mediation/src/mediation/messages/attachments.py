"""Message attachments: type sniffed from the content (never trusted from the name), size-limited, checksummed.

The same rules as the complaints service's evidence, narrowed to images and PDF.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mediation.cases.access import Actor, load_case_for
from mediation.messages.models import CaseAttachment, filename_context
from servicekit import uploads
from servicekit.auth import Principal
from servicekit.db import new_id
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

# Media types a participant may attach, with the file name extensions each may carry.
ALLOWED: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
    "image/png": frozenset({".png"}),
    "image/webp": frozenset({".webp"}),
    "application/pdf": frozenset({".pdf"}),
}


def too_large(limit: int) -> Problem:
    """The 413 problem for a file over `limit` bytes."""
    return Problem("payload-too-large", f"An attachment may have at most {limit} bytes",
                   errors=[{"field": "body.file", "message": f"larger than {limit} bytes", "code": "too_large"}])


def usable_filename(filename: str | None) -> str:
    """The last path component of the client's file name; 422 when nothing printable is left."""
    name = PurePath((filename or "").replace("\\", "/")).name
    if not name or not name.isprintable() or len(name) > 255:
        raise Problem("validation-error", "The file name is not usable",
                      errors=[{"field": "body.file", "message": "invalid file name", "code": "value_error"}])
    return name


def sniff(content: bytes, filename: str) -> str:
    """The media type the content really has, of those an attachment may have."""
    return uploads.sniff(content, filename, allowed=ALLOWED, field="body.file")


async def upload(session: AsyncSession, cipher: PiiCipher, *, store: uploads.FileStore, case_id: uuid.UUID,
                 principal: Principal, filename: str, content: bytes, now: datetime) -> CaseAttachment:
    """Check the caller's part in the case and the file, write the file, then its row; no row, no file."""
    async with session.begin():
        case, actor = await load_case_for(session, case_id, principal)
    media_type = sniff(content, filename)
    attachment_id = new_id()
    async with uploads.stored(store, attachment_id, content) as file, session.begin():
        attachment = CaseAttachment(id=attachment_id, case_id=case.id, message_id=None, uploader_role=actor.role,
                                    uploader_id=actor.id,
                                    filename_enc=cipher.encrypt(filename, context=filename_context(attachment_id)),
                                    content_type=media_type, size_bytes=len(content), sha256=file.sha256,
                                    storage_key=file.key, uploaded_at=now)
        session.add(attachment)
    return attachment


async def claim_for_message(session: AsyncSession, *, case_id: uuid.UUID, author: Actor, message_id: uuid.UUID,
                            attachment_ids: Sequence[uuid.UUID]) -> list[CaseAttachment]:
    """Tie the author's unreferenced uploads of this case to the message (in its transaction); 422 for any other."""
    if not attachment_ids:
        return []
    claimed = list((await session.execute(
        update(CaseAttachment)
        .where(CaseAttachment.id.in_(attachment_ids), CaseAttachment.case_id == case_id,
               CaseAttachment.uploader_role == author.role, CaseAttachment.uploader_id == author.id,
               CaseAttachment.message_id.is_(None))
        .values(message_id=message_id)
        .returning(CaseAttachment)
        .execution_options(synchronize_session=False)
    )).scalars())
    if len(claimed) != len(set(attachment_ids)):
        raise Problem("validation-error", "Reference only your own uploads to this case, each in one message",
                      errors=[{"field": "body.attachment_ids",
                               "message": "unknown, another case's, someone else's or already referenced",
                               "code": "unknown_attachment"}])
    return sorted(claimed, key=lambda attachment: attachment.id)


async def of_case(session: AsyncSession, case_id: uuid.UUID) -> list[CaseAttachment]:
    """Every attachment of the case, in upload order."""
    return list((await session.execute(select(CaseAttachment).where(CaseAttachment.case_id == case_id)
                                       .order_by(CaseAttachment.id))).scalars())


async def of_message(session: AsyncSession, message_id: uuid.UUID) -> list[CaseAttachment]:
    """The attachments a message references, in upload order."""
    return list((await session.execute(select(CaseAttachment).where(CaseAttachment.message_id == message_id)
                                       .order_by(CaseAttachment.id))).scalars())


async def download(session: AsyncSession, *, store: uploads.FileStore, case_id: uuid.UUID, principal: Principal,
                   attachment_id: uuid.UUID) -> tuple[CaseAttachment, bytes]:
    """An attachment and its content for a participant of its case; 404 for anyone else or another case's id."""
    async with session.begin():
        case, _ = await load_case_for(session, case_id, principal)
        attachment = await session.get(CaseAttachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        raise Problem("not-found", "No such attachment in this case")
    return attachment, await store.get(attachment.storage_key)
