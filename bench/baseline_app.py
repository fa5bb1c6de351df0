"""The baseline: a bare FastAPI endpoint that validates the same complaint body and INSERTs one row with asyncpg.

No gateway, no auth, no outbox, no encryption: what one uvicorn worker does with the least work a filing needs.
Run: `BENCH_BASELINE_DSN=postgresql://... uvicorn bench.baseline_app:app --port N --no-access-log`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS baseline_complaint (
    id uuid PRIMARY KEY,
    filed_at timestamptz NOT NULL,
    complainant_phone text NOT NULL,
    respondent jsonb NOT NULL,
    request_type text NOT NULL,
    facts text NOT NULL,
    sector text NOT NULL,
    category text,
    channel text NOT NULL
)
"""
INSERT = """
INSERT INTO baseline_complaint (id, filed_at, complainant_phone, respondent, request_type, facts, sector, category,
                                channel)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Complainant(Strict):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    address: str | None = Field(default=None, max_length=500)


class Respondent(Strict):
    merchant_id: uuid.UUID | None = None
    name: str | None = Field(default=None, max_length=200)
    region_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class RequestIn(Strict):
    type: str
    amount_fen: int | None = Field(default=None, ge=0)


class Purchase(Strict):
    date: date
    amount_fen: int = Field(ge=0)
    order_no: str | None = Field(default=None, max_length=100)


class ComplaintIn(Strict):
    kind: str
    green_channel: bool
    complainant: Complainant
    respondent: Respondent
    request: RequestIn
    facts: str = Field(min_length=1, max_length=5000)
    purchase: Purchase | None = None
    sector: str
    category: str | None = None
    channel: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["BENCH_BASELINE_DSN"], min_size=10, max_size=10)
    await pool.execute(TABLE_DDL)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/complaints", status_code=201)
async def file_complaint(body: ComplaintIn, request: Request) -> Response:
    """Validate, insert one row, answer 201 with the id."""
    complaint_id = uuid.uuid4()
    respondent: dict[str, Any] = body.respondent.model_dump(mode="json", exclude_none=True)
    await request.app.state.pool.execute(
        INSERT, complaint_id, datetime.now(UTC), body.complainant.phone, orjson.dumps(respondent).decode(),
        body.request.type, body.facts, body.sector, body.category, body.channel,
    )
    return Response(orjson.dumps({"id": str(complaint_id), "status": "submitted"}), status_code=201,
                    media_type="application/json")
