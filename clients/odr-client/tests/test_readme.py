"""The README's examples, executed: every ```python block runs, and its functions are driven against a stand-in
platform over real HTTP semantics (ASGI), so the integration guide cannot drift from the client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Form, Header, Request, Response
from fastapi.responses import JSONResponse

from odr_client import OdrClient

README = Path(__file__).parents[1] / "README.md"
CLIENT_ID, CLIENT_SECRET = "odr_readme", "readme-secret"
COMPLAINT_ID = uuid.uuid4()
RECEIPT = b"\x89PNG\r\n\x1a\n receipt"
EVIDENCE_ID = uuid.uuid4()
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"w" * 32).decode()


def readme_namespace() -> dict[str, Any]:
    """Every python block of the README run in order in one namespace (as one script would be)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 4, "the README lost its examples"
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)
    return namespace


def case_json(case_id: str, status: str = "negotiating") -> dict[str, Any]:
    return {"id": case_id, "complaint_id": str(COMPLAINT_ID), "case_no": f"TS-632801-20261204-{case_id[-6:]}",
            "status": status, "merchant_id": str(uuid.uuid4()), "region_code": "632801",
            "deadlines": [{"kind": "merchant_negotiation", "due_date": "2026-12-18", "state": "running"}],
            "complainant": {"name": "王芳", "phone_masked": "138****8000"},
            "request": {"type": "refund", "amount_fen": 20000}, "facts": "枸杞与宣传不符",
            "purchase": {"order_no": "JD2026112000123", "date": "2026-11-20", "amount_fen": 29900},
            "sector": "online_shopping", "category": "food.local_specialty", "issue_type": "false_advertising",
            "evidence": [{"id": str(EVIDENCE_ID), "filename": "小票.png", "media_type": "image/png",
                          "size_bytes": len(RECEIPT), "sha256": hashlib.sha256(RECEIPT).hexdigest(),
                          "download_path": f"/v1/merchant/complaints/{COMPLAINT_ID}/evidence/{EVIDENCE_ID}"}],
            "opened_at": "2026-12-04T04:00:00Z", "closed_at": None}


def stand_in(offers: list[dict[str, Any]]) -> FastAPI:
    """Two pages of cases, a case detail, one shared attachment and the offer endpoint."""
    app = FastAPI()
    pages = {None: ([str(uuid.uuid4()), str(uuid.uuid4())], "page-2"), "page-2": ([str(uuid.uuid4())], None)}

    @app.post("/auth/token")
    async def token(grant_type: str = Form(), client_id: str = Form(), client_secret: str = Form()) -> JSONResponse:
        if (grant_type, client_id, client_secret) != ("client_credentials", CLIENT_ID, CLIENT_SECRET):
            return JSONResponse({"status": 401}, status_code=401, media_type="application/problem+json")
        return JSONResponse({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

    @app.get("/v1/merchant/cases")
    async def cases(request: Request, authorization: str = Header()) -> JSONResponse:
        ids, next_cursor = pages[request.query_params.get("cursor")]
        return JSONResponse({"items": [case_json(case_id) for case_id in ids], "next_cursor": next_cursor})

    @app.get("/v1/merchant/cases/{case_id}")
    async def case(case_id: str, authorization: str = Header()) -> JSONResponse:
        return JSONResponse({**case_json(case_id), "stage": "negotiation", "failure_reason": None, "offers": [],
                             "agreement": None, "fulfilment_proofs": [], "messages": []})

    @app.get("/v1/merchant/complaints/{complaint_id}/evidence/{evidence_id}")
    async def evidence(complaint_id: uuid.UUID, evidence_id: uuid.UUID, authorization: str = Header()) -> Response:
        if (complaint_id, evidence_id) != (COMPLAINT_ID, EVIDENCE_ID):
            return JSONResponse({"status": 404}, status_code=404, media_type="application/problem+json")
        return Response(RECEIPT, media_type="image/png")

    @app.post("/v1/merchant/cases/{case_id}/offers")
    async def offer(case_id: str, request: Request, authorization: str = Header()) -> JSONResponse:
        body = await request.json()
        offers.append(body)
        if len(offers) > 1:
            return JSONResponse({"status": 409, "type": "/problems/conflict", "errors": []}, status_code=409,
                                media_type="application/problem+json")
        return JSONResponse({"id": str(uuid.uuid4()), "status": "open", "made_by": "enterprise", "type": body["type"],
                             "amount_fen": body.get("amount_fen"), "fulfil_by": None, "note": body.get("note"),
                             "made_at": "2026-12-04T05:00:00Z", "answered_at": None}, status_code=201)

    return app


@pytest.fixture
def offers() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def odr(offers: list[dict[str, Any]]) -> AsyncIterator[OdrClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stand_in(offers)), base_url="http://odr") as http:
        yield OdrClient("http://odr", CLIENT_ID, CLIENT_SECRET, http=http)


def test_connect_reads_the_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ODR_BASE_URL", "http://odr.example")
    monkeypatch.setenv("ODR_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ODR_CLIENT_SECRET", CLIENT_SECRET)
    client = readme_namespace()["connect"]()
    assert isinstance(client, OdrClient)
    assert client.client_id == CLIENT_ID
    assert callable(readme_namespace()["main"])


async def test_paging_lists_every_open_case_with_its_order(odr: OdrClient) -> None:
    lines = await readme_namespace()["open_cases"](odr)
    assert len(lines) == 3, "both pages"
    assert all("order=JD2026112000123 asks refund 20000" in line for line in lines)


async def test_the_shared_evidence_downloads_and_is_checked(odr: OdrClient) -> None:
    files = await readme_namespace()["fetch_evidence"](odr, str(uuid.uuid4()))
    assert files == {"小票.png": RECEIPT}


async def test_the_refund_offers_what_was_paid_and_reports_a_refusal(odr: OdrClient,
                                                                     offers: list[dict[str, Any]]) -> None:
    refund_in_full = readme_namespace()["refund_in_full"]
    assert await refund_in_full(odr, str(uuid.uuid4())) == "open"
    assert offers[0] == {"type": "refund", "amount_fen": 29900, "note": "全额退款"}
    assert await refund_in_full(odr, str(uuid.uuid4())) == "refused: 409"


def signed(body: bytes, secret: str = WEBHOOK_SECRET, message_id: str = "msg_1") -> dict[str, str]:
    """Standard Webhooks headers computed here from the specification, not by the client."""
    timestamp = int(time.time())
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


def test_the_webhook_handler_takes_a_signed_routed_complaint_and_refuses_anything_else() -> None:
    handle_webhook = readme_namespace()["handle_webhook"]
    data = {"complaint_id": str(COMPLAINT_ID), "case_no": "TS-632801-20261204-000001", "target": "merchant",
            "merchant_id": str(uuid.uuid4()), "region_code": "632801", "consumer_id": "c_1",
            "complainant": {"name": "王芳", "phone_masked": "138****8000"}, "request_type": "refund",
            "request_amount_fen": 29900, "facts": "……", "due_date": "2026-12-18",
            "routed_at": "2026-12-04T04:00:00Z", "order_no": "JD2026112000123", "purchase_date": "2026-11-20",
            "purchase_amount_fen": 29900, "sector": "online_shopping", "category": "food.local_specialty",
            "issue_type": None, "evidence": [{"id": str(EVIDENCE_ID), "filename": "小票.png",
                                              "media_type": "image/png", "size_bytes": 16, "sha256": "0" * 64}]}
    body = json.dumps({"type": "complaints.complaint.routed.v1", "timestamp": "2026-12-04T04:00:00+00:00",
                       "data": data}, ensure_ascii=False).encode()
    assert handle_webhook(WEBHOOK_SECRET, signed(body), body) == (
        204, "new case TS-632801-20261204-000001 order=JD2026112000123 evidence=1")
    assert handle_webhook(WEBHOOK_SECRET, signed(body), body + b" ")[0] == 400
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert handle_webhook(WEBHOOK_SECRET, signed(body, secret=other), body)[0] == 400
