"""Live case streams served by fan-out: one feed of changed case ids per gateway process, not one upstream stream
per client.

A consumer's phone keeps its complaint's stream open for hours. Relayed, every open stream would hold a socket and
a request in the complaints service as well as here, and two sockets of the gateway's open-file limit. Instead each
gateway process reads the service's feed of changed case ids (`/internal/v1/case-changes`, ids only, no case data)
and wakes the streams following a changed case; each of them then reads the case's detail again with its client's
own token (If-None-Match, so an unchanged case costs a 304), and the service's authorisation decides as for any
read. A stream holds no upstream connection and no case data while it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from prometheus_client import Gauge

from gateway.routes import Upstream
from servicekit.observability import get_logger
from servicekit.sse import Followers, ServerSentEvent

FEED_PATH = "/internal/v1/case-changes"
# The services that publish a case-change feed; only their routes may have a `live_event`.
FEED_SERVICES = (Upstream.COMPLAINTS,)
# As the services' own streams: a comment line after this much silence keeps proxies from closing the connection.
STREAM_PING_SECONDS = 15
RECONNECT_FIRST_SECONDS = 0.2
RECONNECT_MAX_SECONDS = 5.0

LIVE_STREAMS = Gauge("odr_gateway_live_streams", "Client event streams served from a case-change feed", ["service"])
FEED_CONNECTED = Gauge("odr_gateway_case_feed_connected", "1 while the case-change feed is read", ["service"])

log = get_logger("gateway.live")


class CaseFeed:
    """Reads one service's feed of changed case ids and wakes the streams that follow those cases."""

    def __init__(self, service: str, url: str, internal_token: str) -> None:
        self.service = service
        self.url = url
        self.internal_token = internal_token
        self.followers = Followers()

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Read the feed until cancelled, reconnecting after any failure; the service opens every feed with
        `resync`, so what changed while it was not read is read again by everyone then."""
        delay = RECONNECT_FIRST_SECONDS
        while True:
            try:
                async with session.get(self.url, headers={"X-Internal-Token": self.internal_token,
                                                          "Accept": "text/event-stream"}) as answer:
                    if answer.status != 200:
                        raise RuntimeError(f"the feed answered {answer.status}")
                    FEED_CONNECTED.labels(self.service).set(1)
                    delay = RECONNECT_FIRST_SECONDS
                    await self._read(answer.content)
                raise RuntimeError("the feed ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke the feed, streams must not go stale: reconnect
                log.warning("case-change feed lost; reconnecting", service=self.service, in_seconds=delay,
                            error=repr(exc))
            finally:
                FEED_CONNECTED.labels(self.service).set(0)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _read(self, content: aiohttp.StreamReader) -> None:
        event, data = "message", ""
        async for raw in content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith(":"):
                continue
            if line:
                name, _, value = line.partition(":")
                if name == "event":
                    event = value.strip()
                elif name == "data":
                    data = value.strip()
                continue
            self._announce(event, data)
            event, data = "message", ""

    def _announce(self, event: str, case_id: str) -> None:
        if event == "resync":
            self.followers.wake_all()
        elif event == "changed":
            self.followers.wake(case_id)


@dataclass(frozen=True, slots=True)
class Detail:
    """One read of a case's detail: the upstream answer as the client would have had it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str | None


# Reads the detail again, with If-None-Match: the ETag given; None when the service could not be reached.
ReadDetail = Callable[[str | None], Awaitable[Detail | None]]


async def follow(feed: CaseFeed, case_id: str, first: Detail, read_again: ReadDetail,
                 event: str) -> AsyncIterator[ServerSentEvent]:
    """`event` events carrying the detail: `first` at once, then the detail after each change (id = version). Ends
    when the detail can no longer be read (the token expired, the service is gone): the client reconnects and is
    answered, or refused, afresh."""
    LIVE_STREAMS.labels(feed.service).inc()
    try:
        with feed.followers.follow(case_id) as changed:
            etag = first.etag
            yield _detail_event(first, event)
            del first  # an idle stream keeps no case data
            while True:
                await changed.wait()
                changed.clear()
                detail = await read_again(etag)
                if detail is None or detail.status not in (200, 304):
                    return
                if detail.status == 200:
                    etag = detail.etag
                    yield _detail_event(detail, event)
                del detail
    finally:
        LIVE_STREAMS.labels(feed.service).dec()


def _detail_event(detail: Detail, event: str) -> ServerSentEvent:
    version = detail.etag.removeprefix("W/").strip('"') if detail.etag else None
    return ServerSentEvent(data=detail.body.decode(), event=event, id=version)
