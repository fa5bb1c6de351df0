"""Long-lived streamed answers that cost little while they wait: server-sent events, and the gateway's relay of them.

A consumer's phone keeps its case stream open for hours, through the gateway and into a service, so an idle stream
must cost as little as possible in both processes. `ChunkStream` holds two pending futures (the next chunk, the
client's disconnect) and nothing else. sse-starlette, which we used before, keeps a task group of four tasks per
stream, and Starlette's StreamingResponse a task group of two: measured with 3,000 idle streams on one uvicorn
process, sse-starlette took 43 KiB per stream against 11 KiB for this design (bench/README.md, streams).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

PING = b": ping\r\n\r\n"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event: `data` may hold several lines; each becomes its own `data:` field."""

    data: str
    event: str | None = None
    id: str | None = None

    def encode(self) -> bytes:
        fields = []
        if self.id is not None:
            fields.append(f"id: {self.id}")
        if self.event is not None:
            fields.append(f"event: {self.event}")
        fields.extend(f"data: {line}" for line in self.data.splitlines() or [""])
        return ("\r\n".join(fields) + "\r\n\r\n").encode()


class Followers:
    """The streams waiting for changes of a key (a case id): one Event each, set when that key, or everything, may
    have changed. A waiting stream holds nothing but its Event."""

    def __init__(self) -> None:
        self._events: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    @contextmanager
    def follow(self, key: str) -> Iterator[asyncio.Event]:
        """An Event set whenever `key` may have changed, for as long as the block runs."""
        changed = asyncio.Event()
        self._events[key].add(changed)
        try:
            yield changed
        finally:
            self._events[key].discard(changed)
            if not self._events[key]:
                del self._events[key]

    def wake(self, key: str) -> None:
        for changed in self._events.get(key, ()):
            changed.set()

    def wake_all(self) -> None:
        """For when changes may have gone unannounced: every follower reads afresh."""
        for followers in self._events.values():
            for changed in followers:
                changed.set()


class ChunkStream(Response):
    """Sends `chunks` as they come until they end or the client goes away (then the producer is closed, so whatever
    it holds is released at once). With `ping_seconds`, `ping` is sent whenever the producer stays silent that long,
    which keeps proxies from closing an idle connection."""

    def __init__(self, chunks: AsyncIterator[bytes], *, status_code: int = 200,
                 headers: Mapping[str, str] | None = None, raw_headers: Sequence[tuple[bytes, bytes]] = (),
                 ping_seconds: float | None = None, ping: bytes = PING) -> None:
        # Not Response.__init__: it would render an empty body and announce Content-Length: 0.
        self.status_code = status_code
        self.background = None
        self.init_headers(headers)
        self.raw_headers.extend(raw_headers)
        self.chunks = chunks
        self.ping_seconds = ping_seconds
        self.ping = ping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        disconnected = asyncio.ensure_future(_disconnect(receive))
        upcoming: asyncio.Future[bytes] | None = None
        try:
            while True:
                if upcoming is None:
                    upcoming = asyncio.ensure_future(anext(self.chunks))
                done, _ = await asyncio.wait((upcoming, disconnected), timeout=self.ping_seconds,
                                             return_when=asyncio.FIRST_COMPLETED)
                if disconnected in done:
                    return
                if upcoming not in done:
                    await send({"type": "http.response.body", "body": self.ping, "more_body": True})
                    continue
                try:
                    chunk = upcoming.result()
                except StopAsyncIteration:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                upcoming = None
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            for pending in (upcoming, disconnected):
                if pending is not None and not pending.done():
                    pending.cancel()
                    with suppress(asyncio.CancelledError, StopAsyncIteration):
                        await pending
            aclose = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                await aclose()


class EventStream(ChunkStream):
    """A `text/event-stream` answer of `events`, with a comment line after `ping_seconds` of silence."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[ServerSentEvent], *, ping_seconds: float) -> None:
        super().__init__(_encoded(events), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
                         ping_seconds=ping_seconds)


async def _encoded(events: AsyncIterator[ServerSentEvent]) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield event.encode()
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
