"""Where attachment files live: a directory on local disk."""

from __future__ import annotations

import asyncio
from pathlib import Path


class LocalDiskStore:
    """Files under `root`, one per key; writes go to a temporary name first, so a crash leaves no half file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("an attachment key may not leave the store")
        return path

    async def put(self, key: str, content: bytes) -> None:
        """Write the content under `key` atomically."""
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_bytes(content)
            partial.replace(path)

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        """The content kept under `key`."""
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        """Remove the file under `key` if it is there."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)
