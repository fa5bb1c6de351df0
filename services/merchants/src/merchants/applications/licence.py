"""Business-licence uploads: size-limited, typed by their content (PDF, JPEG, PNG), checksummed, kept on disk."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from servicekit.problems import Problem

# Magic numbers; a declared content type or file name is never trusted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
FIELD = "business_licence.content_base64"


@dataclass(frozen=True)
class StoredLicence:
    path: Path
    media_type: str
    size: int
    sha256: str


def decode_licence(content_base64: str, *, max_bytes: int) -> bytes:
    """The file's bytes; 413 when larger than `max_bytes`, 422 when not base64."""
    # Refuse by the encoded length first, so an oversized upload is never decoded.
    if len(content_base64) > 4 * (max_bytes // 3 + 1) + 4:
        raise Problem("payload-too-large", f"The business licence may not exceed {max_bytes} bytes")
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Problem("validation-error", errors=[
            {"field": FIELD, "message": "Not valid base64", "code": "base64_invalid"}]) from exc
    if len(content) > max_bytes:
        raise Problem("payload-too-large", f"The business licence may not exceed {max_bytes} bytes")
    if not content:
        raise Problem("validation-error", errors=[{"field": FIELD, "message": "The file is empty", "code": "empty"}])
    return content


def sniff(content: bytes) -> tuple[str, str]:
    """(media type, file extension) from the content's signature, or a 415 problem."""
    for signature, media_type, extension in SIGNATURES:
        if content.startswith(signature):
            return media_type, extension
    raise Problem("unsupported-media-type", "The business licence must be a PDF, JPEG or PNG file",
                  errors=[{"field": FIELD, "message": "Not a PDF, JPEG or PNG file", "code": "file_type"}])


def _write(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / name
    partial = directory / f".{name}.partial"
    with partial.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(final)
    return final


async def store_licence(content: bytes, *, directory: Path, application_id: uuid.UUID) -> StoredLicence:
    """Write the file as <application id>.<type> (atomically) and describe it."""
    media_type, extension = sniff(content)
    path = await asyncio.to_thread(_write, directory, f"{application_id}.{extension}", content)
    digest = hashlib.sha256(content).hexdigest()
    return StoredLicence(path=path, media_type=media_type, size=len(content), sha256=digest)


def discard(path: Path) -> None:
    """Remove a file whose application was not committed."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
