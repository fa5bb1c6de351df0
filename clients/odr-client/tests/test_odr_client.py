"""The enterprise client against a stand-in platform (real HTTP semantics over ASGI): tokens, calls, errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse

from odr_client import OdrApiError, OdrAuthError, OdrClient

CLIENT_ID, CLIENT_SECRET = "odr_abc", "s3cret"
CASE_ID = uuid.uuid4()


def case_json(status: str = "negotiating") -> dict[str, Any]:
    return {"id": str(CASE_ID), "complaint_id": str(uuid.uuid4()), "case_no": "TS-632801-20261128-000001",
            "status": status, "merchant_id": str(uuid.uuid4()), "region_code": "632801",
            "deadlines": [{"kind": "merchant_negotiation", "due_date": "2026-12-11", "state": "running"}],
            "complainant": {"name": "王芳", "phone_masked": "138****8000"},
            "request": {"type": "refund", "amount_fen": 29900}, "facts": "枸杞与宣传不符",
            "opened_at": "2026-11-28T04:00:00Z", "closed_at": None, "some_future_field": 1}


@dataclass
class Platform:
    """Issues numbered tokens and honours only those not yet invalidated; records what it was sent."""

    issued: list[str] = field(default_factory=list)
    invalid: set[str] = field(default_factory=set)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    secret: str = CLIENT_SECRET
    expires_in: int = 3600

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/auth/token")
        async def token(grant_type: str = Form(), client_id: str = Form(), client_secret: str = Form()
                        ) -> JSONResponse:
            if (grant_type, client_id, client_secret) != ("client_credentials", CLIENT_ID, self.secret):
                return JSONResponse({"type": "/problems/invalid-client", "status": 401, "error": "invalid_client"},
                                    status_code=401, media_type="application/problem+json")
            self.issued.append(f"token-{len(self.issued) + 1}")
            return JSONResponse({"access_token": self.issued[-1], "token_type": "Bearer",
                                 "expires_in": self.expires_in})

        def authorised(header: str) -> bool:
            token = header.removeprefix("Bearer ")
            return token in self.issued and token not in self.invalid

        @app.get("/v1/merchant/cases")
        async def cases(request: Request, authorization: str = Header(default="")) -> JSONResponse:
            if not authorised(authorization):
                return JSONResponse({"type": "/problems/unauthenticated", "status": 401}, status_code=401)
            cursor = request.query_params.get("cursor")
            return JSONResponse({"items": [case_json()], "next_cursor": None if cursor else "page-2",
                                 "query": dict(request.query_params)})

        @app.post("/v1/merchant/cases/{case_id}/offers")
        async def offer(case_id: str, request: Request, authorization: str = Header(default="")) -> JSONResponse:
            if not authorised(authorization):
                return JSONResponse({}, status_code=401)
            body = await request.json()
            self.bodies.append(body)
            if body.get("amount_fen", 0) > 10**10:
                return JSONResponse({"type": "/problems/validation-error", "status": 422, "errors": [
                    {"field": "body.amount_fen", "message": "too large", "code": "less_than_equal"}]},
                    status_code=422, media_type="application/problem+json")
            return JSONResponse({"id": str(uuid.uuid4()), "status": "open", "made_by": "enterprise", **body,
                                 "amount_fen": body.get("amount_fen"), "fulfil_by": body.get("fulfil_by"),
                                 "note": body.get("note"),
                                 "counter_to": None, "made_at": "2026-11-28T05:00:00Z", "answered_at": None},
                                status_code=201)

        @app.post("/v1/merchant/credentials/rotate")
        async def rotate(authorization: str = Header(default="")) -> JSONResponse:
            if not authorised(authorization):
                return JSONResponse({}, status_code=401)
            self.secret = "new-secret"
            return JSONResponse({"client_id": CLIENT_ID, "client_secret": "new-secret",
                                 "previous_valid_until": "2026-11-29T05:00:00Z"}, status_code=201)

        return app


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def odr(platform: Platform, clock: Clock) -> AsyncIterator[OdrClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(platform.app()), base_url="http://odr") as http:
        yield OdrClient("http://odr", CLIENT_ID, CLIENT_SECRET, http=http, clock=clock)


async def test_a_token_is_fetched_once_and_reused(odr: OdrClient, platform: Platform) -> None:
    first = await odr.list_cases(status="negotiating", limit=10)
    second = await odr.list_cases()
    assert platform.issued == ["token-1"]
    assert first.items[0].id == CASE_ID
    assert first.items[0].deadlines[0].due_date == date(2026, 12, 11)
    assert first.next_cursor == "page-2"
    assert second.items[0].complainant.phone_masked == "138****8000"


async def test_the_token_is_refreshed_before_it_expires(odr: OdrClient, platform: Platform, clock: Clock) -> None:
    await odr.list_cases()
    clock.now = 3600 - 61
    await odr.list_cases()
    assert platform.issued == ["token-1"]
    clock.now = 3600 - 59  # inside the 60 s refresh margin
    await odr.list_cases()
    assert platform.issued == ["token-1", "token-2"]


async def test_a_401_gets_one_fresh_token_and_one_retry(odr: OdrClient, platform: Platform) -> None:
    await odr.list_cases()
    platform.invalid.add("token-1")
    page = await odr.list_cases()
    assert page.items
    assert platform.issued == ["token-1", "token-2"]
    platform.invalid.update({"token-2", "token-3"})
    with pytest.raises(OdrApiError) as refused:
        await odr.list_cases()
    assert refused.value.status == 401


async def test_wrong_credentials_raise_an_auth_error(platform: Platform, clock: Clock) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(platform.app()), base_url="http://odr") as http:
        odr = OdrClient("http://odr", CLIENT_ID, "wrong", http=http, clock=clock)
        with pytest.raises(OdrAuthError) as refused:
            await odr.list_cases()
    assert refused.value.status == 401
    assert refused.value.problem["error"] == "invalid_client"


async def test_iter_cases_follows_cursors(odr: OdrClient) -> None:
    pages = [page async for page in odr.iter_cases()]
    assert [page.next_cursor for page in pages] == ["page-2", None]


async def test_offers_are_sent_typed_and_problems_come_back_as_errors(odr: OdrClient, platform: Platform) -> None:
    offer = await odr.make_offer(CASE_ID, type="refund", amount_fen=29900, fulfil_by=date(2026, 12, 5),
                                 note="全额退款")
    assert (offer.type, offer.amount_fen, offer.fulfil_by, offer.status) == ("refund", 29900, date(2026, 12, 5),
                                                                             "open")
    assert platform.bodies[-1] == {"type": "refund", "amount_fen": 29900, "fulfil_by": "2026-12-05",
                                   "note": "全额退款"}
    await odr.make_offer(CASE_ID, type="apology")
    assert platform.bodies[-1] == {"type": "apology"}
    with pytest.raises(OdrApiError) as invalid:
        await odr.make_offer(CASE_ID, type="refund", amount_fen=10**11)
    assert invalid.value.status == 422
    assert invalid.value.errors[0]["field"] == "body.amount_fen"


async def test_rotation_switches_the_client_to_the_new_secret(odr: OdrClient, platform: Platform) -> None:
    rotated = await odr.rotate_credentials()
    assert rotated.client_secret == "new-secret"
    await odr.list_cases()
    assert platform.issued == ["token-1", "token-2"]  # the second with the new secret
