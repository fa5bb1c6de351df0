"""Uploaded files: the media type sniffed from the content (never trusted from the name) and a store for them.

Complaints evidence and mediation attachments follow the same rules; each service passes the media types
it admits and the request field its errors should name.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Protocol

import filetype  # type: ignore[import-untyped]

from servicekit.problems import Problem


def sniff(content: bytes, filename: str, *, allowed: Mapping[str, frozenset[str]], field: str,
          name_field: str | None = None) -> str:
    """The media type the content really has; 422 when empty, 415 when not allowed or not matching the extension.

    Errors name `field` (where the content came from), or `name_field` for a name whose extension does not match.
    """
    if not content:
        raise Problem("validation-error", "The file is empty",
                      errors=[{"field": field, "message": "empty file", "code": "empty"}])
    kind = filetype.guess(content)
    media_type: str = kind.mime if kind is not None else "application/octet-stream"
    if media_type not in allowed:
        kinds = ", ".join(sorted(allowed))
        raise Problem("unsupported-media-type", f"Files may be {kinds}, not {media_type}",
                      errors=[{"field": field, "message": f"content is {media_type}", "code": "media_type"}])
    extension = PurePath(filename).suffix.lower()
    if extension not in allowed[media_type]:
        raise Problem("unsupported-media-type", f"The content is {media_type} but the name ends in {extension!r}",
                      errors=[{"field": name_field or field, "message": "extension does not match the content",
                               "code": "media_type"}])
    return media_type


class FileStore(Protocol):
    """Keeps file contents under a key; what the file is lives in the database."""

    async def put(self, key: str, content: bytes) -> str:
        """Store `content` under `key`; returns the SHA-256 (hex) of what was stored."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str


@asynccontextmanager
async def stored(store: FileStore, file_id: uuid.UUID, content: bytes) -> AsyncIterator[StoredFile]:
    """Write the file, then let the block commit its row; if the block fails the file is removed again, so no file
    is ever left without its row. The key starts with the random tail of the (UUIDv7) id, which spreads the files
    over 256 directories or key prefixes."""
    key = f"{file_id.hex[-2:]}/{file_id}"
    digest = await store.put(key, content)
    try:
        yield StoredFile(key=key, sha256=digest)
    except BaseException:
        await store.delete(key)
        raise


class LocalDiskStore:
    """Files under `root`, one per key; writes go to a temporary name first, so a crash leaves no half file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("a file key may not leave the store")
        return path

    async def put(self, key: str, content: bytes) -> str:
        """Write the file atomically; returns its SHA-256 (hex)."""
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(path)

        await asyncio.to_thread(write)
        return hashlib.sha256(content).hexdigest()

    async def get(self, key: str) -> bytes:
        """The file's contents."""
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
