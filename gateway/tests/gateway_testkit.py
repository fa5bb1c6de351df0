"""Stand-in services and servers for the gateway tests: real HTTP on both sides of the gateway."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.main import create_app
from gateway.settings import GatewaySettings
from servicekit.infra import free_port

INTERNAL_TOKEN = "test-internal-token"
OTP_SECRET = "test-otp-secret"
SUBJECT_KEY = "test-subject-key"
MERCHANT_ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "cli_demo"
CLIENT_SECRET = "demo-secret"
STAFF_USERNAME = "reg-golmud"
STAFF_PASSWORD = "staff-password"
PORTAL_USERNAME = "kunlun-admin"
PORTAL_PASSWORD = "portal-password1"
SSE_EVENTS = 3
SSE_INTERVAL = 0.6
GATEWAY_TIMEOUT = 1.0
REFRESH_TTL = 30 * 24 * 3600
# The stand-in complaints service answers 429 for this number, as if its text-message limit were reached.
LIMITED_PHONE = "13300133000"


@dataclass
class FakeService:
    """A stand-in service: what it received (recorded before its body is read) and where it listens."""

    name: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    server: ServerThread | None = None
    # complaints only: followed cases (id -> version; 0 answers 404) and the case-change feed it serves.
    versions: dict[str, int] = field(default_factory=dict)
    feed: list[tuple[str, str]] = field(default_factory=list)
    feed_connections: int = 0
    detail_reads: int = 0
    # merchants only: refresh tokens (token -> family id, claims, rotated) and the revoked families.
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    # complaints only: the sign-in codes the gateway queued.
    sign_in_codes: list[dict[str, Any]] = field(default_factory=list)
    revoked_families: set[str] = field(default_factory=set)

    def change(self, case_id: str) -> None:
        """A new version of a followed case, announced on the feed."""
        self.versions[case_id] += 1
        self.feed.append(("changed", case_id))

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def saw(self, marker: str) -> bool:
        return any(marker in entry["query"] for entry in self.seen)


class RecordArrivals:
    """ASGI middleware noting each request as it arrives, so a refused body is provably never forwarded."""

    def __init__(self, app: ASGIApp, service: FakeService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.service.seen.append({"path": scope["path"], "query": scope["query_string"].decode()})
        await self.app(scope, receive, send)


class Draft(BaseModel):
    title: str


class Offer(BaseModel):
    amount_fen: int
    draft: Draft | None = None


async def echo(request: Request, service: str) -> JSONResponse:
    """Answer with everything the request carried; `x-test-delay` makes the answer late."""
    delay = float(request.headers.get("x-test-delay", "0"))
    if delay:
        await asyncio.sleep(delay)
    body = await request.body()
    return JSONResponse(
        {
            "service": service,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode(),
        },
        status_code=201 if request.method == "POST" else 200,
        headers={"ETag": '"v1"', "X-Upstream": service},
    )


def fake_service(name: str) -> tuple[FakeService, FastAPI]:
    """A FastAPI app with a few declared routes (for its OpenAPI) and an echo for everything else."""
    service = FakeService(name)
    app = FastAPI(title=f"fake {name}")
    declared = APIRouter()

    if name == "complaints":
        @declared.post("/v1/consumer/complaints", status_code=201)
        async def file_complaint(draft: Draft, request: Request) -> JSONResponse:
            return await echo(request, name)

        @declared.get("/v1/consumer/complaints/{complaint_id}")
        async def read_complaint(complaint_id: str, request: Request) -> Response:
            if complaint_id not in service.versions:
                return await echo(request, name)
            version = service.versions[complaint_id]
            if not version:
                return JSONResponse({"type": "/problems/not-found", "title": "Not found", "status": 404},
                                    status_code=404, media_type="application/problem+json")
            etag = f'W/"{version}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag})
            service.detail_reads += 1
            return JSONResponse({"id": complaint_id, "version": version,
                                 "authorization": request.headers.get("authorization")}, headers={"ETag": etag})

        @declared.get("/internal/v1/case-changes")
        async def case_changes(x_internal_token: str = Header(default="")) -> Response:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            service.feed_connections += 1

            async def events() -> AsyncIterator[bytes]:
                yield b"event: resync\r\ndata: \r\n\r\n"
                sent = len(service.feed)
                while True:
                    for event, case_id in service.feed[sent:]:
                        yield f"event: {event}\r\ndata: {case_id}\r\n\r\n".encode()
                        sent += 1
                    await asyncio.sleep(0.02)

            return StreamingResponse(events(), media_type="text/event-stream")

        @declared.post("/internal/v1/sms/sign-in-codes", status_code=202)
        async def queue_sign_in_code(payload: dict[str, Any],
                                     x_internal_token: str = Header(default="")) -> JSONResponse:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            service.sign_in_codes.append(payload)
            if payload["phone"] == LIMITED_PHONE:
                return JSONResponse({"type": "/problems/rate-limited", "title": "Too many", "status": 429},
                                    status_code=429, headers={"Retry-After": "60"})
            return JSONResponse({"queued": True}, status_code=202)

        @declared.get("/v1/public/complaints")
        async def public_complaints(request: Request) -> JSONResponse:
            return await echo(request, name)

        @declared.get("/v1/consumer/secret-admin")
        async def not_allow_listed() -> dict[str, str]:
            return {"secret": "yes"}

        @declared.get("/internal/v1/complaints/{complaint_id}")
        async def internal_complaint(complaint_id: str) -> dict[str, str]:
            return {"internal": complaint_id}

    if name == "mediation":
        @declared.get("/v1/consumer/cases/{case_id}/stream")
        async def stream_case(case_id: str) -> StreamingResponse:
            async def events() -> AsyncIterator[bytes]:
                for number in range(SSE_EVENTS):
                    if number:
                        await asyncio.sleep(SSE_INTERVAL)
                    yield f"id: {number}\ndata: {{\"n\": {number}}}\n\n".encode()

            return StreamingResponse(events(), media_type="text/event-stream")

        @declared.get("/v1/merchant/cases")
        async def list_cases(request: Request) -> JSONResponse:
            return await echo(request, name)

        @declared.post("/v1/merchant/cases/{case_id}/offers", status_code=201)
        async def make_offer(case_id: str, offer: Offer, request: Request) -> JSONResponse:
            return await echo(request, name)

    if name == "merchants":
        @declared.post("/internal/v1/credentials/verify")
        async def verify_credentials(payload: dict[str, Any],
                                     x_internal_token: str = Header(default="")) -> JSONResponse:
            service.seen.append({"path": "credentials", "query": "", "payload": payload, "token": x_internal_token})
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            grant = payload.get("grant_type")
            if grant == "client_credentials" and (payload.get("client_id"), payload.get("client_secret")) == (
                CLIENT_ID, CLIENT_SECRET
            ):
                return JSONResponse({"sub": f"client:{CLIENT_ID}", "aud": "merchant", "roles": ["enterprise"],
                                     "region": "632801", "merchant_id": MERCHANT_ID, "station_id": None,
                                     "client_id": CLIENT_ID})
            if grant == "password" and (payload.get("username"), payload.get("password")) == (
                STAFF_USERNAME, STAFF_PASSWORD
            ):
                return JSONResponse({"sub": STAFF_USERNAME, "aud": "regulator", "roles": ["regulator"],
                                     "region": "632801", "merchant_id": None, "station_id": None,
                                     "client_id": None})
            if grant == "password" and (payload.get("username"), payload.get("password")) == (
                PORTAL_USERNAME, PORTAL_PASSWORD
            ):
                return JSONResponse({"sub": PORTAL_USERNAME, "aud": "merchant",
                                     "roles": ["enterprise", "enterprise_admin"], "region": "632801",
                                     "merchant_id": MERCHANT_ID})
            return JSONResponse({"detail": "bad credentials"}, status_code=401)

        def next_refresh(family: str, claims: dict[str, Any], status: int) -> JSONResponse:
            token = f"ort_{uuid.uuid4().hex}"
            service.refresh_tokens[token] = {"family": family, "claims": claims, "rotated": False}
            return JSONResponse({"family_id": family, "refresh_token": token, "refresh_expires_in": REFRESH_TTL,
                                 "claims": claims}, status_code=status)

        @declared.post("/internal/v1/sessions")
        async def start_session(payload: dict[str, Any], x_internal_token: str = Header(default="")) -> JSONResponse:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            if payload["kind"] == "staff":
                claims = {"sub": payload["subject"], "aud": "regulator", "roles": ["regulator"], "region": "632801"}
            elif payload["kind"] == "merchant_portal":
                claims = {"sub": payload["subject"], "aud": "merchant", "roles": ["enterprise", "enterprise_admin"],
                          "region": "632801", "merchant_id": MERCHANT_ID}
            else:
                claims = {"sub": payload["subject"], "aud": "consumer", "roles": ["consumer"]}
            return next_refresh(str(uuid.uuid4()), claims, 201)

        @declared.post("/internal/v1/sessions/refresh")
        async def refresh_session(payload: dict[str, Any],
                                  x_internal_token: str = Header(default="")) -> JSONResponse:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            known = service.refresh_tokens.get(payload["refresh_token"])
            if known is None or known["family"] in service.revoked_families:
                return JSONResponse({"detail": "not valid"}, status_code=401)
            if known["rotated"]:
                service.revoked_families.add(known["family"])
                return JSONResponse({"detail": "reused"}, status_code=401)
            known["rotated"] = True
            return next_refresh(known["family"], known["claims"], 200)

        @declared.post("/internal/v1/sessions/revoke")
        async def revoke_session(payload: dict[str, Any], x_internal_token: str = Header(default="")) -> Response:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            known = service.refresh_tokens.get(payload["refresh_token"])
            if known is not None:
                service.revoked_families.add(known["family"])
            return Response(status_code=204)

        @declared.get("/internal/v1/principals/{client_id}/active")
        async def client_active(client_id: str, x_internal_token: str = Header(default="")) -> JSONResponse:
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            return JSONResponse({"client_id": client_id, "active": client_id == CLIENT_ID})

        @declared.get("/internal/v1/principals/portal-users/{username}/active")
        async def portal_user_active(username: str, x_internal_token: str = Header(default="")) -> JSONResponse:
            service.seen.append({"path": "portal-user-active", "query": "", "payload": username,
                                 "token": x_internal_token})
            if x_internal_token != INTERNAL_TOKEN:
                return JSONResponse({"detail": "internal only"}, status_code=403)
            return JSONResponse({"username": username, "active": username == PORTAL_USERNAME})

        @declared.post("/v1/public/odr-applications", status_code=201)
        async def apply(draft: Draft, request: Request) -> JSONResponse:
            return await echo(request, name)

    @declared.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    app.include_router(declared)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def anything(request: Request) -> JSONResponse:
        return await echo(request, name)

    app.add_middleware(RecordArrivals, service=service)
    return service, app


class ServerThread:
    """uvicorn serving one app on a free port from its own thread and event loop."""

    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                                    log_level="warning", access_log=False, lifespan="on",
                                                    proxy_headers=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Upstreams:
    complaints: FakeService
    merchants: FakeService
    mediation: FakeService


def gateway_settings(upstreams: Upstreams, signing_key: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "environment": "test",
        "complaints_url": upstreams.complaints.url,
        "merchants_url": upstreams.merchants.url,
        "mediation_url": upstreams.mediation.url,
        "jwt_private_key": signing_key,
        "otp_secret": OTP_SECRET,
        "subject_key": SUBJECT_KEY,
        "internal_token": INTERNAL_TOKEN,
        "upstream_total_timeout": GATEWAY_TIMEOUT,
        "auth_rate_burst": 1000,
        "log_json": False,
        "log_level": "WARNING",
        **overrides,
    }
    return GatewaySettings(**values)


@asynccontextmanager
async def in_process_gateway(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway variant driven in-process (still forwarding over real HTTP to the stand-ins)."""
    app = create_app(settings)
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                                        base_url="http://gateway") as client:
        yield client


PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
