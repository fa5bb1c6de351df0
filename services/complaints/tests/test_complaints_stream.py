"""The consumer's event stream: the detail at once, then after every change made anywhere (PostgreSQL NOTIFY)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
from complaints_support import PII_KEY, Area, Consumer, bearer, file_case
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.complaint.service import sweep_breaches
from complaints.database import outbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.calendar import ZONE
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

TIMEOUT = 30.0


class Stream:
    """An open response of the ASGI app, read message by message, as a browser's EventSource would."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.disconnected = asyncio.Event()
        self.buffer = ""
        self.status: int | None = None
        self.headers: dict[str, str] = {}

    async def receive(self) -> dict[str, Any]:
        if not hasattr(self, "_sent_request"):
            self._sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await self.messages.put(message)

    async def start(self) -> None:
        message = await asyncio.wait_for(self.messages.get(), TIMEOUT)
        assert message["type"] == "http.response.start"
        self.status = message["status"]
        self.headers = {name.decode(): value.decode() for name, value in message["headers"]}

    async def next_block(self) -> dict[str, str]:
        """The fields of the next event or comment block, as a browser's EventSource would split them."""
        while "\r\n\r\n" not in self.buffer:
            message = await asyncio.wait_for(self.messages.get(), TIMEOUT)
            self.buffer += message.get("body", b"").decode()
        block, self.buffer = self.buffer.split("\r\n\r\n", 1)
        return dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line and line[0] != ":")

    async def next_event(self, name: str = "complaint") -> dict[str, Any]:
        """The next event called `name` (ping comments are skipped), as {"id", "data"}."""
        while (fields := await self.next_block()).get("event") != name:
            pass
        return {"id": fields["id"], "data": json.loads(fields["data"])}

    async def next_change(self, *, skip_resync: bool = False) -> tuple[str, str]:
        """The next (event, data) of the case-change feed: ("changed", case id) or ("resync", "")."""
        while True:
            fields = await self.next_block()
            if "event" in fields and not (skip_resync and fields["event"] == "resync"):
                return fields["event"], fields["data"]


@asynccontextmanager
async def open_stream(app: FastAPI, path: str, headers: dict[str, str]) -> AsyncIterator[Stream]:
    stream = Stream()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
             "server": ("complaints", 80), "client": ("127.0.0.1", 50000)}
    task = asyncio.create_task(app(scope, stream.receive, stream.send))
    try:
        await stream.start()
        yield stream
    finally:
        stream.disconnected.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), TIMEOUT)


async def test_the_stream_pushes_every_change(
    app: FastAPI, client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)

    async with open_stream(app, f"/v1/consumer/complaints/{filed['id']}/stream", auth) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        first = await stream.next_event()
        assert (first["id"], first["data"]["status"]) == ("1", "pending_acceptance")

        accepted = await client.post(f"/v1/regulator/complaints/{filed['id']}/accept",
                                     headers=bearer(tokens.regulator(region=area.first)))
        assert accepted.status_code == 200
        second = await stream.next_event()
        assert (second["id"], second["data"]["status"]) == ("2", "accepted")
        assert second["data"]["timeline"][-1]["actor_role"] == "regulator"

        withdrawn = await client.post(f"/v1/consumer/complaints/{filed['id']}/withdraw", headers=auth)
        assert withdrawn.status_code == 200
        third = await stream.next_event()
        assert third["data"]["status"] == "withdrawn"


async def test_a_change_committed_by_another_connection_reaches_the_stream(
    app: FastAPI, client: httpx.AsyncClient, consumer: Consumer, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, auth = consumer()
    filed = await file_case(client, auth, area.first)
    due = filed["deadlines"][0]["due_date"]

    async with open_stream(app, f"/v1/consumer/complaints/{filed['id']}/stream", auth) as stream:
        await stream.next_event()
        after = datetime.combine(date.fromisoformat(due) + timedelta(days=2), time(), tzinfo=ZONE)
        await sweep_breaches(sessionmaker, now=after,
                             publisher=Publisher(outbox=Outbox(outbox, "complaints"), source="complaints",
                                                 cipher=PiiCipher(PII_KEY)))
        event = await stream.next_event()

    assert [(d["kind"], d["state"]) for d in event["data"]["deadlines"]] == [("initial_review", "breached")]
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version FROM complaint WHERE id = :id"),
                                            {"id": uuid.UUID(filed["id"])})).scalar_one()
    assert event["id"] == str(version)


async def test_only_the_owner_may_stream(client: httpx.AsyncClient, consumer: Consumer, area: Area) -> None:
    _, owner = consumer()
    _, stranger = consumer()
    filed = await file_case(client, owner, area.first)

    response = await client.get(f"/v1/consumer/complaints/{filed['id']}/stream", headers=stranger)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_case_change_feed_announces_each_new_version_to_internal_callers_only(
    app: FastAPI, client: httpx.AsyncClient, consumer: Consumer, area: Area, settings: ComplaintsSettings,
) -> None:
    refused = await client.get("/internal/v1/case-changes", headers={"X-Internal-Token": "guessed"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    _, auth = consumer()
    internal = {"X-Internal-Token": settings.internal_token.get_secret_value()}
    # A new case is version 1, announced to no one (nobody can follow it yet); each later version is.

    filed = await file_case(client, auth, area.first)

    async with open_stream(app, "/internal/v1/case-changes", internal) as feed:
        assert feed.status == 200
        assert await feed.next_change() == ("resync", "")
        withdrawn = await client.post(f"/v1/consumer/complaints/{filed['id']}/withdraw", headers=auth)
        assert withdrawn.status_code == 200
        # The service may say resync again: it does whenever its own LISTEN (re)starts, as at start-up.
        assert await feed.next_change(skip_resync=True) == ("changed", filed["id"])
