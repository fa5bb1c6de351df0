"""A consumer's complaint stream served by fan-out: one case-change feed per gateway process, the detail read again
with the client's own token after each change, nothing held upstream while a stream waits."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from gateway_testkit import Upstreams, assert_problem, bearer
from test_gateway_proxy import consumer_token

from servicekit.auth import TokenIssuer

EVENT_TIMEOUT = 5.0
QUIET_SECONDS = 0.5


@dataclass
class Event:
    name: str
    id: str | None
    data: dict[str, object]


class Follower:
    """The client side of one stream: its events in order, as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()

    async def read(self) -> None:
        name, event_id, data = "message", None, ""
        async for line in self.response.aiter_lines():
            if line.startswith(":"):
                continue
            if line:
                field, _, value = line.partition(":")
                if field == "event":
                    name = value.strip()
                elif field == "id":
                    event_id = value.strip()
                elif field == "data":
                    data = value.strip()
                continue
            await self.events.put(Event(name, event_id, json.loads(data)))
            name, event_id, data = "message", None, ""
        await self.events.put(None)

    async def next(self) -> Event | None:
        """The next event, or None when the stream ended."""
        return await asyncio.wait_for(self.events.get(), EVENT_TIMEOUT)

    async def assert_quiet(self) -> None:
        await asyncio.sleep(QUIET_SECONDS)
        assert self.events.empty(), "an event arrived although the case did not change"


@asynccontextmanager
async def following(gateway: httpx.AsyncClient, case_id: str, token: str) -> AsyncIterator[Follower]:
    async with gateway.stream("GET", f"/v1/consumer/complaints/{case_id}/stream",
                              headers={**bearer(token), "Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        follower = Follower(response)
        reader = asyncio.create_task(follower.read())
        try:
            yield follower
        finally:
            reader.cancel()


def new_case(upstreams: Upstreams) -> str:
    case_id = f"live-{uuid.uuid4().hex}"
    upstreams.complaints.versions[case_id] = 1
    return case_id


async def test_a_followed_complaint_arrives_at_once_and_again_after_each_change(
    gateway: httpx.AsyncClient, upstreams: Upstreams, gateway_issuer: TokenIssuer
) -> None:
    complaints = upstreams.complaints
    case_id, other_case = new_case(upstreams), new_case(upstreams)
    token = consumer_token(gateway_issuer)
    async with following(gateway, case_id, token) as stream:
        first = await stream.next()
        assert first == Event("complaint", "1", {"id": case_id, "version": 1, "authorization": f"Bearer {token}"})
        complaints.change(case_id)
        assert await stream.next() == Event("complaint", "2", {"id": case_id, "version": 2,
                                                               "authorization": f"Bearer {token}"})
        # Another case's change, or an announcement without a new version, sends nothing.
        complaints.change(other_case)
        complaints.feed.append(("changed", case_id))
        await stream.assert_quiet()
        complaints.change(case_id)
        assert (await stream.next()) == Event("complaint", "3", {"id": case_id, "version": 3,
                                                                 "authorization": f"Bearer {token}"})
    assert not any(entry["path"].endswith("/stream") for entry in complaints.seen), \
        "the service was asked for a stream"


async def test_many_streams_share_one_feed_and_hold_nothing_upstream_while_they_wait(
    gateway: httpx.AsyncClient, upstreams: Upstreams, gateway_issuer: TokenIssuer
) -> None:
    complaints = upstreams.complaints
    await gateway.get("/healthz")
    feeds_before = complaints.feed_connections
    case_id = new_case(upstreams)
    token = consumer_token(gateway_issuer)
    async with following(gateway, case_id, token) as one, following(gateway, case_id, token) as two, \
            following(gateway, case_id, token) as three:
        for stream in (one, two, three):
            assert (await stream.next()) is not None
        reads = complaints.detail_reads
        await asyncio.sleep(QUIET_SECONDS)
        assert complaints.detail_reads == reads, "an idle stream read the case"
        complaints.change(case_id)
        assert [(await stream.next()) for stream in (one, two, three)] == \
            [Event("complaint", "2", {"id": case_id, "version": 2, "authorization": f"Bearer {token}"})] * 3
    assert complaints.feed_connections == feeds_before, "a stream opened a feed of its own"


async def test_a_resync_rereads_every_followed_case(
    gateway: httpx.AsyncClient, upstreams: Upstreams, gateway_issuer: TokenIssuer
) -> None:
    complaints = upstreams.complaints
    case_id = new_case(upstreams)
    async with following(gateway, case_id, consumer_token(gateway_issuer)) as stream:
        await stream.next()
        complaints.versions[case_id] = 7  # changed while the feed could not say so
        complaints.feed.append(("resync", ""))
        changed = await stream.next()
        assert changed is not None
        assert changed.id == "7"


async def test_the_stream_ends_once_the_case_can_no_longer_be_read(
    gateway: httpx.AsyncClient, upstreams: Upstreams, gateway_issuer: TokenIssuer
) -> None:
    complaints = upstreams.complaints
    case_id = new_case(upstreams)
    async with following(gateway, case_id, consumer_token(gateway_issuer)) as stream:
        await stream.next()
        complaints.versions[case_id] = 0  # the service now answers 404 (a token expired answers 401 alike)
        complaints.feed.append(("changed", case_id))
        assert await stream.next() is None


async def test_a_case_the_service_refuses_is_answered_with_its_problem(
    gateway: httpx.AsyncClient, upstreams: Upstreams, gateway_issuer: TokenIssuer
) -> None:
    case_id = new_case(upstreams)
    upstreams.complaints.versions[case_id] = 0
    response = await gateway.get(f"/v1/consumer/complaints/{case_id}/stream",
                                 headers={**bearer(consumer_token(gateway_issuer)), "Accept": "text/event-stream"})
    assert_problem(response, 404, "not-found")


async def test_a_stream_needs_a_consumer_token_before_anything_is_read(
    gateway: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    case_id = new_case(upstreams)
    reads = upstreams.complaints.detail_reads
    response = await gateway.get(f"/v1/consumer/complaints/{case_id}/stream", headers={"Accept": "text/event-stream"})
    assert_problem(response, 401, "unauthenticated")
    assert upstreams.complaints.detail_reads == reads
