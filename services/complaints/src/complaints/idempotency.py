"""Idempotency-Key: a retried request with the same key and body gets the stored response, never a second effect."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import Integer, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from complaints.database import Base
from servicekit.problems import Problem

MAX_KEY_LENGTH = 200


class IdempotencyKey(Base):
    """The response first given to (principal, key), and a hash of the body it answered."""

    __tablename__ = "idempotency_key"

    principal_sub: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime]


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


async def replay(session: AsyncSession, *, principal_sub: str, key: str, body_hash: str) -> StoredResponse | None:
    """The stored response for this key, None if the key is new; 422 if the key answered a different body."""
    row = (await session.execute(
        select(idempotency_key.c.request_hash, idempotency_key.c.response_status, idempotency_key.c.response_body)
        .where(idempotency_key.c.principal_sub == principal_sub, idempotency_key.c.key == key)
    )).one_or_none()
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise Problem("idempotency-key-reused", "Send a new Idempotency-Key for a different request")
    return StoredResponse(status=row.response_status, body=row.response_body)


async def remember(session: AsyncSession, *, principal_sub: str, key: str, body_hash: str, status: int,
                   body: dict[str, Any], at: datetime) -> None:
    """Store the response in the caller's transaction; a concurrent twin fails on the primary key and replays."""
    await session.execute(idempotency_key.insert().values(
        principal_sub=principal_sub, key=key, request_hash=body_hash, response_status=status,
        response_body=body, created_at=at,
    ))
