"""Idempotency-Key: a retried request with the same key and body gets the stored response, never a second effect.

The stored response holds the complainant's personal data, so it is kept encrypted with the service's PII cipher
(bound to its principal and key); the case number, taken in the filing's one write (`case_numbers.write_filing`), is
written beside it in clear and put back into the body on replay. A record answers for `TTL` (24 hours): after that a
retry with the same key files anew, and the `idempotency-pruner` job deletes expired records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Integer, LargeBinary, String, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base
from servicekit.db import utcnow
from servicekit.pii import PiiCipher
from servicekit.problems import Problem

MAX_KEY_LENGTH = 200
TTL = timedelta(hours=24)


class IdempotencyKey(Base):
    """The response first given to (principal, key), encrypted, and a hash of the body it answered."""

    __tablename__ = "idempotency_key"

    principal_sub: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # Written by the statement that takes the number (`case_numbers.write_filing`, `take_number`); replaces the
    # body's provisional number.
    case_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)


idempotency_key: Table = IdempotencyKey.__table__  # type: ignore[assignment]


class StoredResponse(BaseModel):
    """A response to replay."""

    status: int
    body: dict[str, Any]


def request_hash(body: BaseModel) -> str:
    """SHA-256 of the validated body as canonical JSON (sorted keys), so key order and spacing do not matter."""
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def validate_key(key: str) -> str:
    """A key the client chose: non-empty, printable, bounded."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem("validation-error", "Idempotency-Key must be 1-200 printable characters",
                      errors=[{"field": "header.Idempotency-Key", "message": "invalid key", "code": "value_error"}])
    return key


def _context(principal_sub: str, key: str) -> str:
    return f"idempotency_key:{principal_sub}:{key}"


# What a stored record holds, as `replay` and `answer` read it.
STORED = (idempotency_key.c.request_hash, idempotency_key.c.response_status, idempotency_key.c.response_enc,
          idempotency_key.c.case_no, idempotency_key.c.created_at)


async def replay(session: AsyncSession, cipher: PiiCipher, *, principal_sub: str, key: str,
                 body_hash: str) -> StoredResponse | None:
    """The stored response for this key, None if the key is new or its record expired (the expired record is
    deleted, so the request files anew); 422 if the key answered a different body."""
    row = (await session.execute(select(*STORED).where(*_record(principal_sub, key)))).mappings().one_or_none()
    if row is None:
        return None
    return await answer(session, cipher, row, principal_sub=principal_sub, key=key, body_hash=body_hash)


async def answer(db: AsyncSession | AsyncConnection, cipher: PiiCipher, row: Mapping[Any, Any], *,
                 principal_sub: str, key: str, body_hash: str) -> StoredResponse | None:
    """What the record `row` (the `STORED` columns of the key's record, read by the caller) answers: as `replay`."""
    if row["created_at"] <= utcnow() - TTL:
        await db.execute(delete(idempotency_key).where(*_record(principal_sub, key)))
        return None
    if row["request_hash"] != body_hash:
        raise Problem("idempotency-key-reused", "Send a new Idempotency-Key for a different request")
    body: dict[str, Any] = orjson.loads(cipher.decrypt(row["response_enc"], context=_context(principal_sub, key)))
    if row["case_no"] is not None:
        body["case_no"] = row["case_no"]
    return StoredResponse(status=row["response_status"], body=body)


def _record(principal_sub: str, key: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return idempotency_key.c.principal_sub == principal_sub, idempotency_key.c.key == key


def seal(cipher: PiiCipher, *, principal_sub: str, key: str, body: dict[str, Any]) -> bytes:
    """The response body as it is stored: encrypted, bound to its principal and key."""
    return cipher.encrypt(orjson.dumps(body).decode(), context=_context(principal_sub, key))


async def remember(session: AsyncSession, cipher: PiiCipher, *, principal_sub: str, key: str, body_hash: str,
                   status: int, body: dict[str, Any], at: datetime) -> None:
    """Store the response, encrypted, in the caller's transaction; a concurrent twin fails on the primary key and
    replays."""
    await session.execute(idempotency_key.insert().values(
        principal_sub=principal_sub, key=key, request_hash=body_hash, response_status=status,
        response_enc=seal(cipher, principal_sub=principal_sub, key=key, body=body), created_at=at,
    ))


async def prune(session: AsyncSession, *, now: datetime | None = None, batch: int = 1000) -> int:
    """Delete up to `batch` expired records; returns how many went."""
    cutoff = (now or utcnow()) - TTL
    doomed = (select(idempotency_key.c.principal_sub, idempotency_key.c.key)
              .where(idempotency_key.c.created_at <= cutoff).limit(batch)
              .with_for_update(skip_locked=True).cte("doomed"))
    result = await session.execute(
        delete(idempotency_key)
        .where(idempotency_key.c.principal_sub == doomed.c.principal_sub, idempotency_key.c.key == doomed.c.key))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
