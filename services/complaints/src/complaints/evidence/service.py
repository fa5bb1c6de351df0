"""Evidence attachments: type sniffed from the content (never trusted from the name), size-limited, checksummed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import RowMapping, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from complaints.evidence.models import Evidence
from servicekit import uploads
from servicekit.db import new_id, utcnow
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

evidence_table: Table = Evidence.__table__  # type: ignore[assignment]


def filename_context(evidence_id: uuid.UUID) -> str:
    """The AES-GCM associated data of an attachment's original name (a consumer's file name can be personal data:
    it is kept only encrypted, and the stored file is named by the attachment's id)."""
    return f"evidence:{evidence_id}:filename"


def opened(row: RowMapping, cipher: PiiCipher) -> dict[str, Any]:
    """The row with its original file name decrypted, as `filename`."""
    opened = dict(row)
    opened["filename"] = cipher.decrypt(opened.pop("filename_enc"), context=filename_context(row["id"]))
    return opened


# Media types a consumer may attach, with the file name extensions each may carry.
ALLOWED: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
    "image/png": frozenset({".png"}),
    "image/webp": frozenset({".webp"}),
    "image/gif": frozenset({".gif"}),
    "application/pdf": frozenset({".pdf"}),
    "video/mp4": frozenset({".mp4"}),
    "audio/mpeg": frozenset({".mp3"}),
    "audio/x-wav": frozenset({".wav"}),
    "audio/mp4": frozenset({".m4a"}),
    "audio/x-m4a": frozenset({".m4a"}),
}


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or 413 as soon as it passes `limit` bytes (the rest is never buffered)."""
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > limit:
            raise Problem("payload-too-large", f"An attachment may have at most {limit} bytes",
                          errors=[{"field": "body", "message": f"larger than {limit} bytes", "code": "too_large"}])
    return bytes(received)


def sniff(content: bytes, filename: str) -> str:
    """The media type the content really has, of those evidence may have."""
    return uploads.sniff(content, filename, allowed=ALLOWED, field="body", name_field="query.filename")


async def store(session: AsyncSession, cipher: PiiCipher, *, store: uploads.FileStore, consumer_id: str,
                filename: str, content: bytes) -> dict[str, Any]:
    """Check, write the file, then its row; if the row cannot be committed the file is removed again."""
    media_type = sniff(content, filename)
    evidence_id = new_id()
    async with uploads.stored(store, evidence_id, content) as file, session.begin():
        row = (await session.execute(evidence_table.insert().values(
            id=evidence_id, consumer_id=consumer_id, complaint_id=None,
            filename_enc=cipher.encrypt(filename, context=filename_context(evidence_id)), media_type=media_type,
            size_bytes=len(content), sha256=file.sha256, storage_key=file.key, created_at=utcnow(),
        ).returning(*evidence_table.c))).mappings().one()
    return opened(row, cipher)


async def attach(db: AsyncSession | AsyncConnection, cipher: PiiCipher, *, case_id: uuid.UUID, consumer_id: str,
                 evidence_ids: Sequence[uuid.UUID], shared_ids: Sequence[uuid.UUID] = ()) -> list[dict[str, Any]]:
    """Give the consumer's unattached uploads to a case (in the filing's transaction), those in `shared_ids` shared
    with the enterprise, and return them in upload order; 422 for any other id."""
    if not evidence_ids:
        return []
    attached = (await db.execute(
        evidence_table.update()
        .where(evidence_table.c.id.in_(evidence_ids), evidence_table.c.consumer_id == consumer_id,
               evidence_table.c.complaint_id.is_(None))
        .values(complaint_id=case_id, shared_with_merchant=evidence_table.c.id.in_(list(shared_ids)))
        .returning(*evidence_table.c)
    )).mappings().all()
    if len(attached) != len(set(evidence_ids)):
        raise Problem("validation-error", "Attach only your own uploads, each to one case",
                      errors=[{"field": "body.evidence_ids", "message": "unknown, someone else's or already attached",
                               "code": "unknown_evidence"}])
    return [opened(row, cipher) for row in sorted(attached, key=lambda row: row["id"])]


async def of_case(session: AsyncSession, cipher: PiiCipher, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """Metadata of a case's attachments, in upload order."""
    rows = (await session.execute(
        select(evidence_table).where(evidence_table.c.complaint_id == case_id).order_by(evidence_table.c.id)
    )).mappings().all()
    return [opened(row, cipher) for row in rows]


async def shared_of_case(session: AsyncSession, cipher: PiiCipher, case_id: uuid.UUID) -> list[dict[str, Any]]:
    """The attachments of a case its consumer shared with the enterprise, in upload order."""
    rows = (await session.execute(
        select(evidence_table).where(evidence_table.c.complaint_id == case_id, evidence_table.c.shared_with_merchant)
        .order_by(evidence_table.c.id)
    )).mappings().all()
    return [opened(row, cipher) for row in rows]


async def of_case_by_id(session: AsyncSession, cipher: PiiCipher, *, case_id: uuid.UUID,
                        evidence_id: uuid.UUID) -> dict[str, Any]:
    """One attachment of a case; 404 if it belongs elsewhere."""
    row = (await session.execute(select(evidence_table).where(
        evidence_table.c.id == evidence_id, evidence_table.c.complaint_id == case_id))).mappings().one_or_none()
    if row is None:
        raise Problem("not-found", "No such attachment on this case")
    return opened(row, cipher)


async def uploaded_by(session: AsyncSession, cipher: PiiCipher, consumer_id: str) -> list[dict[str, Any]]:
    """Metadata of every attachment the consumer uploaded, attached to a case or not, in upload order."""
    rows = (await session.execute(
        select(evidence_table).where(evidence_table.c.consumer_id == consumer_id).order_by(evidence_table.c.id)
    )).mappings().all()
    return [opened(row, cipher) for row in rows]


async def erase_of_case(session: AsyncSession, case_id: uuid.UUID) -> list[str]:
    """Delete a case's attachment rows (their sealed names with them) in the caller's transaction; returns the
    storage keys of the files, which the caller deletes once the transaction has committed."""
    deleted = await session.execute(evidence_table.delete().where(evidence_table.c.complaint_id == case_id)
                                    .returning(evidence_table.c.storage_key))
    return list(deleted.scalars().all())
