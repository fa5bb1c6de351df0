"""Services keep verified tokens for a while, never past their expiry, and never keep a failure."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from servicekit.auth import Audience, Role, TokenIssuer, TokenVerifier, generate_private_key_pem
from servicekit.problems import Problem

ISSUER = "odr-test"


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer(generate_private_key_pem(), ISSUER)


class Clock:
    """The verifier's time, moved on by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier_of(issuer: TokenIssuer, *, cache_size: int = 100, cache_seconds: float = 300.0,
                clock: Clock | None = None) -> TokenVerifier:
    return TokenVerifier(issuer.public_key_pem(), ISSUER, cache_size=cache_size, cache_seconds=cache_seconds,
                         clock=clock or Clock())


def test_a_token_seen_before_is_answered_from_the_cache(issuer: TokenIssuer) -> None:
    verifier = verifier_of(issuer)
    token = issuer.issue(sub="c_1", aud=Audience.CONSUMER, roles=[Role.CONSUMER])

    first = verifier.verify(token)

    assert first.sub == "c_1"
    assert verifier.verify(token) is first


def test_a_cached_token_still_expires(issuer: TokenIssuer) -> None:
    clock = Clock()
    verifier = verifier_of(issuer, clock=clock)
    token = issuer.issue(sub="c_1", aud=Audience.CONSUMER, roles=[Role.CONSUMER], ttl=timedelta(seconds=60))
    verifier.verify(token)

    clock.now += 61

    with pytest.raises(Problem) as refused:
        verifier.verify(token)
    assert refused.value.detail == "The token has expired"


def test_an_entry_is_checked_again_after_the_cache_lifetime(issuer: TokenIssuer) -> None:
    clock = Clock()
    verifier = verifier_of(issuer, cache_seconds=0.2, clock=clock)
    token = issuer.issue(sub="c_1", aud=Audience.CONSUMER, roles=[Role.CONSUMER])
    first = verifier.verify(token)

    clock.now += 0.3

    again = verifier.verify(token)
    assert again == first
    assert again is not first


def test_a_forged_token_is_refused_even_when_its_original_is_cached(issuer: TokenIssuer) -> None:
    verifier = verifier_of(issuer)
    token = issuer.issue(sub="c_1", aud=Audience.CONSUMER, roles=[Role.CONSUMER])
    verifier.verify(token)
    header, payload, signature = token.split(".")
    forged = ".".join((header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")))

    for _ in range(2):
        with pytest.raises(Problem) as refused:
            verifier.verify(forged)
        assert refused.value.detail == "The token is not valid"


def test_the_cache_keeps_at_most_its_size_and_forgets_the_oldest(issuer: TokenIssuer) -> None:
    verifier = verifier_of(issuer, cache_size=2)
    tokens = [issuer.issue(sub=f"c_{index}", aud=Audience.CONSUMER, roles=[Role.CONSUMER]) for index in range(3)]
    principals = [verifier.verify(token) for token in tokens]

    assert verifier.verify(tokens[2]) is principals[2]
    assert verifier.verify(tokens[0]) is not principals[0]


def test_without_a_cache_every_call_verifies(issuer: TokenIssuer) -> None:
    verifier = verifier_of(issuer, cache_size=0)
    token = issuer.issue(sub="c_1", aud=Audience.CONSUMER, roles=[Role.CONSUMER])

    assert verifier.verify(token) is not verifier.verify(token)
