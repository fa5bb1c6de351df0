"""EventStream: events as they come, pings while idle, and a client that leaves stops the producer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from servicekit.sse import EventStream, ServerSentEvent


class Client:
    """The ASGI side of one HTTP exchange: records what the response sends; `leave()` disconnects."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    def leave(self) -> None:
        self.gone.set()

    async def next_body(self) -> bytes:
        message = await asyncio.wait_for(self.sent.get(), 5)
        assert message["type"] == "http.response.body"
        return bytes(message["body"])


def test_an_event_is_encoded_field_by_field_with_one_data_line_per_line() -> None:
    event = ServerSentEvent(data='{"a": 1}\nsecond', event="complaint", id="7")
    assert event.encode() == b'id: 7\r\nevent: complaint\r\ndata: {"a": 1}\r\ndata: second\r\n\r\n'
    assert ServerSentEvent(data="").encode() == b"data: \r\n\r\n"


async def test_events_flow_pings_fill_the_silence_and_leaving_closes_the_producer() -> None:
    release = asyncio.Event()
    closed = asyncio.Event()

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(data="first", event="complaint", id="1")
            await release.wait()
            yield ServerSentEvent(data="second", event="complaint", id="2")
            await asyncio.Event().wait()  # nothing more happens: only the client can end the stream
        finally:
            closed.set()

    client = Client()
    served = asyncio.create_task(EventStream(events(), ping_seconds=0.05)({"type": "http"}, client.receive,
                                                                          client.send))
    start = await asyncio.wait_for(client.sent.get(), 5)
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"content-type"].startswith(b"text/event-stream")
    assert headers[b"cache-control"] == b"no-store"
    assert b"content-length" not in headers
    assert await client.next_body() == b"id: 1\r\nevent: complaint\r\ndata: first\r\n\r\n"
    assert await client.next_body() == b": ping\r\n\r\n"
    release.set()
    while (body := await client.next_body()) == b": ping\r\n\r\n":
        pass
    assert body == b"id: 2\r\nevent: complaint\r\ndata: second\r\n\r\n"

    client.leave()
    await asyncio.wait_for(served, 5)
    assert closed.is_set()


async def test_the_response_ends_when_the_events_end() -> None:
    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(data="only")

    client = Client()
    await asyncio.wait_for(EventStream(events(), ping_seconds=30)({"type": "http"}, client.receive, client.send), 5)
    await client.sent.get()
    assert await client.next_body() == b"data: only\r\n\r\n"
    last = await client.sent.get()
    assert last == {"type": "http.response.body", "body": b"", "more_body": False}
