"""Token buckets: a burst, then the sustained rate, a Retry-After that tells the truth, and bounded memory."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from servicekit.problems import Problem, install_problem_handlers
from servicekit.ratelimit import TokenBuckets, forwarded_client_address


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.5, burst=3, clock=clock)

    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)
    clock.now += 1.0
    assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(2.0)


def test_keys_do_not_share_buckets() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())

    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_a_refusal_raises_429_with_retry_after_rounded_up() -> None:
    buckets = TokenBuckets(rate=1 / 90, burst=1, clock=Clock())
    buckets.take_or_refuse("a", "slow down")

    with pytest.raises(Problem) as refused:
        buckets.take_or_refuse("a", "slow down")

    assert (refused.value.status, refused.value.detail) == (429, "slow down")
    assert refused.value.headers == {"Retry-After": "90"}


def test_memory_stays_bounded_when_every_bucket_is_drained() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.001, burst=1, max_keys=3, clock=clock)
    for key in "abcdef":
        assert buckets.take(key) == 0.0
        clock.now += 1.0

    # The three most recently used stay drained; the others were forgotten, so they start full again.
    assert [buckets.take(key) > 0 for key in "fed"] == [True, True, True]
    assert buckets.take("a") == 0.0


def test_a_used_bucket_counts_as_recent() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.001, burst=2, max_keys=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    buckets.take("a")
    buckets.take("c")

    assert buckets.take("a") > 0, "a was used after b, so b is the one forgotten"
    assert buckets.take("b") == 0.0


async def test_behind_the_gateway_the_forwarded_address_is_the_key() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    buckets = TokenBuckets(rate=0.001, burst=1)

    def limited(request: Request) -> None:
        buckets.take_or_refuse(forwarded_client_address(request), "Too many from this address")

    @app.post("/apply", dependencies=[Depends(limited)])
    async def apply(request: Request) -> dict[str, str]:
        return {"address": forwarded_client_address(request)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app, client=("10.0.0.9", 1234)),
                                 base_url="http://service") as client:
        first = await client.post("/apply", headers={"X-Forwarded-For": "203.0.113.7"})
        again = await client.post("/apply", headers={"X-Forwarded-For": "203.0.113.7"})
        other = await client.post("/apply", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.8"})
        direct = await client.post("/apply")

    assert first.json() == {"address": "203.0.113.7"}
    assert again.status_code == 429
    assert again.headers["content-type"] == "application/problem+json"
    assert int(again.headers["retry-after"]) >= 1
    assert other.json() == {"address": "203.0.113.8"}
    assert direct.json() == {"address": "10.0.0.9"}
