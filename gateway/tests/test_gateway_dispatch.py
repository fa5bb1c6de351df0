"""Allow-listed requests are dispatched before FastAPI's routing: the same layers answer them, and an own endpoint the
allow-list would hide from FastAPI stops the gateway from starting."""

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from gateway_testkit import INTERNAL_TOKEN, Upstreams, assert_problem, bearer, gateway_settings, in_process_gateway
from prometheus_client import REGISTRY
from starlette.staticfiles import StaticFiles

from gateway.main import refuse_shadowed_endpoints
from gateway.routes import ROUTES, RouteTable
from servicekit.auth import Audience, Role, TokenIssuer

TABLE = RouteTable(ROUTES)


def test_an_own_endpoint_the_allow_list_would_shadow_stops_the_start(tmp_path: Path) -> None:
    own = FastAPI()

    @own.get("/v1/consumer/complaints/{complaint_id}")
    async def read(complaint_id: str) -> dict[str, str]:
        return {"id": complaint_id}

    with pytest.raises(ValueError, match=re.escape("shadows the gateway's own /v1/consumer/complaints/{complaint_id}")):
        refuse_shadowed_endpoints(own, TABLE)

    mounted = FastAPI()
    mounted.mount("/v1/public", StaticFiles(directory=str(tmp_path)), name="files")
    with pytest.raises(ValueError, match="shadows the gateway's own /v1/public"):
        refuse_shadowed_endpoints(mounted, TABLE)


def test_own_endpoints_beside_the_allow_list_are_accepted() -> None:
    own = FastAPI()

    @own.get("/v1/consumer/personal-data")
    async def download() -> dict[str, str]:
        return {}

    refuse_shadowed_endpoints(own, TABLE)


def _filed(status: str) -> float:
    return REGISTRY.get_sample_value("odr_http_requests_total", {
        "service": "gateway", "method": "POST", "route": "/v1/consumer/complaints", "status": status}) or 0.0


async def test_a_proxied_request_passes_the_edge_and_request_context_and_is_counted_by_its_template(
        upstreams: Upstreams, signing_key: str, gateway_issuer: TokenIssuer) -> None:
    token = gateway_issuer.issue(sub="c_dispatch", aud=Audience.CONSUMER, roles=[Role.CONSUMER])
    async with in_process_gateway(gateway_settings(upstreams, signing_key)) as gateway:
        before_created, before_refused = _filed("201"), _filed("401")
        filed = await gateway.post("/v1/consumer/complaints", json={"title": "枸杞不符"},
                                   headers={**bearer(token), "X-Request-Id": "dispatch-1"})
        assert filed.status_code == 201, filed.text
        assert filed.headers["x-request-id"] == "dispatch-1"
        assert filed.headers["x-content-type-options"] == "nosniff"
        assert filed.headers["x-frame-options"] == "DENY"
        refused = await gateway.post("/v1/consumer/complaints", json={"title": "x"},
                                     headers={"Accept-Language": "zh-CN", "X-Internal-Token": INTERNAL_TOKEN})
        body = assert_problem(refused, 401, "unauthenticated")
        assert body["instance"] == "/v1/consumer/complaints"
        assert refused.headers["referrer-policy"] == "no-referrer"
        assert refused.headers["x-correlation-id"] == refused.headers["x-request-id"]
        assert (_filed("201"), _filed("401")) == (before_created + 1, before_refused + 1)
        # Not allow-listed (here: the method): FastAPI's catch-all answers, through the same layers.
        unknown = await gateway.delete("/v1/consumer/complaints")
        assert_problem(unknown, 404, "not-found")
        assert unknown.headers["x-content-type-options"] == "nosniff"
        assert "x-request-id" in unknown.headers


async def test_the_gateway_own_endpoints_still_answer_first(upstreams: Upstreams, signing_key: str) -> None:
    async with in_process_gateway(gateway_settings(upstreams, signing_key)) as gateway:
        assert (await gateway.get("/.well-known/jwks.json")).json()["keys"]
        assert (await gateway.get("/healthz")).json() == {"status": "ok"}
        assert (await gateway.get("/v1/consumer/personal-data")).status_code == 401
