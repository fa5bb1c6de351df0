"""A stored upload and its row commit together: when the row fails, the file is removed again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit import uploads
from servicekit.db import new_id

CONTENT = b"%PDF-1.7 evidence"


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


async def test_the_file_stays_when_its_row_commits(tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession],
                                                   effect: Table) -> None:
    store = uploads.LocalDiskStore(tmp_path)
    file_id = new_id()

    async with sessionmaker() as session:
        async with uploads.stored(store, file_id, CONTENT) as file, session.begin():
            await session.execute(effect.insert().values(event_id=file_id, note=file.key))
        count = await session.scalar(select(func.count()).select_from(effect).where(effect.c.note == file.key))

    assert count == 1
    assert file.key == f"{file_id.hex[-2:]}/{file_id}"
    assert file.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert await store.get(file.key) == CONTENT


async def test_the_file_is_removed_when_its_row_fails(tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession],
                                                      effect: Table) -> None:
    store = uploads.LocalDiskStore(tmp_path)
    written: list[Path] = []

    async def upload_with_a_row_that_breaks_a_constraint() -> None:
        async with sessionmaker() as session, uploads.stored(store, new_id(), CONTENT), session.begin():
            written.extend(files_under(tmp_path))
            await session.execute(effect.insert().values(event_id=new_id(), note=None))

    with pytest.raises(IntegrityError):
        await upload_with_a_row_that_breaks_a_constraint()

    assert len(written) == 1
    assert files_under(tmp_path) == []
