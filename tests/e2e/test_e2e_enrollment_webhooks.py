"""ODR enrollment through the gateway (issue 4): apply, approve, client credentials, signed webhooks to a real
receiver (with an outage and a manual redelivery), suspension and revocation, and the refusals of bad input.

The tests of this module run in file order on one new enterprise: suspension and revocation come last.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from otlp_collector import ExportedSpan, TraceCollector

from odr_client import OdrApiError, OdrClient, WebhookVerificationError, verify_webhook
from odr_client.models import Delivery, WebhookEvent
from odr_runner.stack import GATEWAY, Stack
from servicekit import infra

pytestmark = pytest.mark.e2e

ComplaintBody = Callable[..., dict[str, Any]]
Eventually = Callable[..., Any]

APPLICATIONS = "/v1/public/odr-applications"
ROUTED = "complaints.complaint.routed.v1"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LICENCE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LICENCE_LIMIT = 5 * 1024 * 1024
REVOCATION_BITES_WITHIN = 5.0
SPAN_SERVER, SPAN_CLIENT, SPAN_CONSUMER = 2, 3, 5  # OTLP's SpanKind numbers


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def uscc_check_character(first_17: str) -> str:
    """GB 32100-2015 §5.3, computed here rather than taken from the merchants service: weights 3^i mod 31."""
    total = sum(USCC_ALPHABET.index(char) * pow(3, position, 31) for position, char in enumerate(first_17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def new_uscc() -> str:
    """A well-formed code of a company (9 1) in Golmud with a random organisation code."""
    first_17 = "91632801" + "".join(secrets.choice(USCC_ALPHABET) for _ in range(9))
    return first_17 + uscc_check_character(first_17)


def test_the_check_character_computed_here_matches_a_known_code() -> None:
    assert uscc_check_character("91632801MA7KL2Q38") == "M"


def application_body(uscc: str, licence: bytes = LICENCE_PDF) -> dict[str, Any]:
    return {
        "name": "格尔木察尔汗盐湖商贸有限公司",
        "uscc": uscc,
        "region_code": "632801",
        "address": "青海省格尔木市江源南路8号",
        "sector": "retail",
        "online_stores": [{"platform": "taobao", "store_id": "qh-salt-lake"}],
        "contact": {"name": "李明", "phone": "13997001234"},
        "undertaking_accepted": True,
        "business_licence": {"filename": "营业执照.pdf", "content_base64": base64.b64encode(licence).decode()},
        "criteria": {
            "handling_place": "青海省格尔木市江源南路8号二楼客服部",
            "complaint_staff_count": 2,
            "complaint_phone": "0979-8412345",
            "networked_computer": True,
            "handling_procedures": "收到投诉后二十四小时内联系消费者，七日内提出处理方案，处理结果登记归档备查。",
            "cooperates_with_regulators": True,
        },
    }


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A real HTTP endpoint on 127.0.0.1 recording every POST; `stop` takes it off the network, connections and all."""

    def __init__(self) -> None:
        self.port = infra.free_port()
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/odr/webhook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/odr/webhook", self._receive)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        return web.Response(status=204)

    def verified(self, secret: str) -> list[WebhookEvent]:
        """Every request so far, verified with `secret` (a request that does not verify fails the test)."""
        return [verify_webhook(secret, item.headers, item.body) for item in self.received]


@dataclass(frozen=True)
class Enterprise:
    application_id: str
    merchant_id: str
    client_id: str
    client_secret: str
    status_token: str
    retrieval_token: str


@pytest.fixture(scope="module")
async def applied(gateway: httpx.AsyncClient) -> tuple[dict[str, Any], httpx.Response]:
    body = application_body(new_uscc())
    return body, await gateway.post(APPLICATIONS, json=body)


@pytest.fixture(scope="module")
async def enterprise(
    applied: tuple[dict[str, Any], httpx.Response], gateway: httpx.AsyncClient, regulator_token: str, e2e_stack: Stack
) -> Enterprise:
    """The applicant, found in the regulator's review queue and approved; complaints knows of it."""
    _, response = applied
    assert response.status_code == 201, response.text
    application_id = response.json()["id"]
    queue = await gateway.get("/v1/regulator/odr-applications", params={"status": "pending", "limit": 100},
                              headers=auth(regulator_token))
    assert queue.status_code == 200, queue.text
    assert application_id in [item["id"] for item in queue.json()["items"]]
    approved = await gateway.post(f"/v1/regulator/odr-applications/{application_id}/approve",
                                  json={"reason": "材料齐全，符合条件"}, headers=auth(regulator_token))
    assert approved.status_code == 200, approved.text
    assert "client_secret" not in approved.json(), "the credentials never pass through the regulator's hands"
    # The applicant, not the regulator, fetches them: its status (with the token it got on applying) carries the
    # one-time link.
    status = await gateway.get(f"{APPLICATIONS}/{application_id}/status",
                               headers={"X-Application-Token": response.json()["status_token"]})
    assert status.status_code == 200, status.text
    link = status.json()["credentials"]
    assert link["state"] == "ready", link
    retrieved = await gateway.post(link["url"], json={"retrieval_token": link["retrieval_token"]})
    assert retrieved.status_code == 200, retrieved.text
    issued = retrieved.json()
    # Routing reads complaints' replica of enrollments, fed by merchants' approval event.
    pending = await e2e_stack.wait_settled()
    assert not pending, f"events still in flight: {pending}"
    return Enterprise(application_id=application_id, merchant_id=issued["merchant_id"],
                      client_id=issued["client_id"], client_secret=issued["client_secret"],
                      status_token=response.json()["status_token"], retrieval_token=link["retrieval_token"])


@pytest.fixture(scope="module")
async def odr(e2e_stack: Stack, enterprise: Enterprise) -> AsyncIterator[OdrClient]:
    """The enterprise's own typed client, as an integrator would use it."""
    async with OdrClient(e2e_stack.url(GATEWAY), enterprise.client_id, enterprise.client_secret) as client:
        yield client


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    started = WebhookReceiver()
    await started.start()
    yield started
    await started.stop()


@pytest.fixture(scope="module")
async def webhook_secret(odr: OdrClient, receiver: WebhookReceiver) -> str:
    saved = await odr.configure_webhook(receiver.url)
    assert saved.enabled
    assert saved.secret, "the signing secret is shown when the webhook is saved"
    return saved.secret


async def file_against(gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody,
                       merchant_id: str, **extra: Any) -> dict[str, Any]:
    body = {**complaint_body(), **extra}
    body["respondent"] = {"merchant_id": merchant_id}
    response = await gateway.post("/v1/consumer/complaints", json=body,
                                  headers={**auth(consumer_token), "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    filed: dict[str, Any] = response.json()
    return filed


def routed_event_of(events: list[WebhookEvent], complaint_id: str) -> WebhookEvent | None:
    return next((event for event in events
                 if event.type == ROUTED and event.data.get("complaint_id") == complaint_id), None)


@dataclass(frozen=True)
class FirstDelivery:
    complaint: dict[str, Any]
    event: WebhookEvent
    shared: dict[str, Any]
    kept: dict[str, Any]


RECEIPT_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ID_CARD_PDF = b"%PDF-1.4\n% id card scan, for the regulator only\n%%EOF\n"


async def upload(gateway: httpx.AsyncClient, consumer_token: str, filename: str, content: bytes) -> dict[str, Any]:
    response = await gateway.post("/v1/consumer/evidence", params={"filename": filename}, content=content,
                                  headers={**auth(consumer_token), "Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    uploaded: dict[str, Any] = response.json()
    return uploaded


@pytest.fixture(scope="module")
async def first_delivery(
    gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody, enterprise: Enterprise,
    receiver: WebhookReceiver, webhook_secret: str, eventually: Eventually,
) -> FirstDelivery:
    """A green-channel complaint against the new enterprise with two attachments, one shared with it, and its
    routed event as the receiver got it."""
    shared = await upload(gateway, consumer_token, "小票.png", RECEIPT_PNG)
    kept = await upload(gateway, consumer_token, "身份证.pdf", ID_CARD_PDF)
    complaint = await file_against(gateway, consumer_token, complaint_body, enterprise.merchant_id,
                                   evidence_ids=[shared["id"], kept["id"]], shared_evidence_ids=[shared["id"]])

    async def arrived() -> WebhookEvent | None:
        return routed_event_of(receiver.verified(webhook_secret), complaint["id"])

    event = await eventually(arrived, what="the webhook of the routed complaint")
    return FirstDelivery(complaint=complaint, event=event, shared=shared, kept=kept)


async def test_application_is_filed_with_its_licence_typed_by_content(
    applied: tuple[dict[str, Any], httpx.Response],
) -> None:
    _, response = applied
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending"
    assert created["licence"]["media_type"] == "application/pdf"
    assert created["licence"]["size"] == len(LICENCE_PDF)


async def test_approval_issues_credentials_the_token_endpoint_accepts(
    enterprise: Enterprise, gateway: httpx.AsyncClient, regulator_token: str,
) -> None:
    decided = await gateway.get(f"/v1/regulator/odr-applications/{enterprise.application_id}",
                                headers=auth(regulator_token))
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    assert enterprise.client_secret not in decided.text, "the secret is shown once, at approval"
    token = await gateway.post("/auth/token", data={"grant_type": "client_credentials",
                                                    "client_id": enterprise.client_id,
                                                    "client_secret": enterprise.client_secret})
    assert token.status_code == 200, token.text


async def test_the_one_time_link_works_once_and_never_again(
    enterprise: Enterprise, gateway: httpx.AsyncClient, regulator_token: str,
) -> None:
    status_path = f"{APPLICATIONS}/{enterprise.application_id}/status"
    again = await gateway.post(f"{APPLICATIONS}/{enterprise.application_id}/credentials",
                               json={"retrieval_token": enterprise.retrieval_token})
    assert_problem(again, 409)
    assert enterprise.client_secret not in again.text
    status = await gateway.get(status_path, headers={"X-Application-Token": enterprise.status_token})
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "approved"
    assert status.json()["credentials"]["state"] == "retrieved"
    assert status.json()["credentials"]["retrieval_token"] is None
    assert_problem(await gateway.get(status_path, headers={"X-Application-Token": "someone-elses"}), 404)
    assert_problem(await gateway.get(status_path), 422)
    # The regulator's view says the credentials were handed over, and holds neither token nor secret.
    decided = await gateway.get(f"/v1/regulator/odr-applications/{enterprise.application_id}",
                                headers=auth(regulator_token))
    assert decided.json()["credentials_retrieved_at"] is not None
    for secret in (enterprise.client_secret, enterprise.status_token, enterprise.retrieval_token):
        assert secret not in decided.text


async def test_a_second_application_for_the_same_code_is_409(
    applied: tuple[dict[str, Any], httpx.Response], enterprise: Enterprise, gateway: httpx.AsyncClient,
) -> None:
    body, _ = applied
    assert_problem(await gateway.post(APPLICATIONS, json=body), 409)


async def test_a_code_with_a_wrong_check_character_is_422(gateway: httpx.AsyncClient) -> None:
    valid = new_uscc()
    wrong = valid[:17] + next(char for char in USCC_ALPHABET if char != valid[17])
    problem = assert_problem(await gateway.post(APPLICATIONS, json=application_body(wrong)), 422)
    assert "uscc" in str(problem.get("errors")), problem


async def test_a_licence_over_5_mb_is_413(gateway: httpx.AsyncClient) -> None:
    oversized = b"%PDF-1.4\n" + b"0" * LICENCE_LIMIT
    assert_problem(await gateway.post(APPLICATIONS, json=application_body(new_uscc(), oversized)), 413)


async def test_routed_complaint_arrives_signed_and_the_client_lists_its_case(
    first_delivery: FirstDelivery, webhook_secret: str, receiver: WebhookReceiver, odr: OdrClient,
    enterprise: Enterprise, eventually: Eventually,
) -> None:
    assert first_delivery.complaint["status"] == "with_merchant"
    assert first_delivery.event.data["merchant_id"] == enterprise.merchant_id
    delivered = next(item for item in receiver.received
                     if item.headers.get("webhook-id") == first_delivery.event.webhook_id)
    with pytest.raises(WebhookVerificationError):
        verify_webhook("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(), delivered.headers,
                       delivered.body)

    async def listed() -> bool:
        page = await odr.list_cases()
        return any(str(case.complaint_id) == first_delivery.complaint["id"] for case in page.items)

    await eventually(listed, what="the case in the enterprise's list")


async def test_the_webhook_delivery_continues_the_trace_of_the_filing_through_kafka(
    first_delivery: FirstDelivery, trace_collector: TraceCollector, eventually: Eventually,
) -> None:
    """The delivery's span descends from merchants' consumption of the routed event, which descends from complaints'
    handling of the filing behind the gateway's span: the traceparent went through Kafka and the delivery row."""

    async def spans_of_delivery() -> list[ExportedSpan] | None:
        delivery = next((span for span in trace_collector.spans
                         if span.service == "merchants" and span.kind == SPAN_CLIENT and span.name == "webhook deliver"
                         and span.attributes["odr.webhook.delivery_id"]["stringValue"]
                         == first_delivery.event.webhook_id), None)
        if delivery is None:
            return None
        by_id = {span.span_id: span for span in trace_collector.spans if span.trace_id == delivery.trace_id}
        chain = [delivery]
        while chain[-1].parent_span_id in by_id:
            chain.append(by_id[chain[-1].parent_span_id])
        # Each process exports on its own schedule: wait until the chain reaches a root.
        return chain if not chain[-1].parent_span_id else None

    chain = await eventually(spans_of_delivery, within=30.0, what="the delivery's span and all its ancestors")

    steps = [(span.service, span.kind) for span in chain]
    assert steps[-1] == ("gateway", SPAN_SERVER)
    assert ("complaints", SPAN_SERVER) in steps
    consumed = [span for span in chain if (span.service, span.kind) == ("merchants", SPAN_CONSUMER)]
    assert consumed
    assert steps.index(("merchants", SPAN_CONSUMER)) < steps.index(("complaints", SPAN_SERVER))
    assert consumed[0].attributes["messaging.destination.name"]["stringValue"] == "complaints.complaint"


async def test_the_enterprise_receives_what_it_needs_to_answer(
    first_delivery: FirstDelivery, complaint_body: ComplaintBody, odr: OdrClient, gateway: httpx.AsyncClient,
    merchant_a_token: str, demo: dict[str, Any], eventually: Eventually,
) -> None:
    filed = complaint_body()
    purchase = filed["purchase"]
    routed = first_delivery.event.complaint_routed()
    assert routed is not None
    assert (routed.order_no, str(routed.purchase_date), routed.purchase_amount_fen) == (
        purchase["order_no"], purchase["date"], purchase["amount_fen"])
    assert (routed.sector, routed.category) == (filed["sector"], filed["category"])
    assert [str(item.id) for item in routed.evidence] == [first_delivery.shared["id"]], "only what was shared"
    assert routed.evidence[0].sha256 == first_delivery.shared["sha256"]
    assert "****" in routed.complainant.phone_masked
    assert demo["consumer_phone"] not in str(first_delivery.event.data), "the consumer's contact stays masked"

    async def listed() -> Any:
        page = await odr.list_cases()
        return next((case for case in page.items if str(case.complaint_id) == first_delivery.complaint["id"]), None)

    case = await eventually(listed, what="the case in the enterprise's list")
    assert case.purchase is not None
    assert (case.purchase.order_no, str(case.purchase.date), case.purchase.amount_fen) == (
        purchase["order_no"], purchase["date"], purchase["amount_fen"])
    assert (case.sector, case.category) == (filed["sector"], filed["category"])
    assert [str(item.id) for item in case.evidence] == [first_delivery.shared["id"]]
    assert await odr.download_evidence(case.evidence[0]) == RECEIPT_PNG
    assert await odr.download_evidence(routed.evidence[0], routed.complaint_id) == RECEIPT_PNG
    detail = await odr.get_case(case.id)
    assert detail.evidence == case.evidence

    # The attachment the consumer kept for the regulator, and any other enterprise, get nothing.
    kept_path = case.evidence[0].download_path.replace(first_delivery.shared["id"], first_delivery.kept["id"])
    with pytest.raises(OdrApiError) as kept:
        await odr.request("GET", kept_path)
    assert kept.value.status == 404
    other = await gateway.get(case.evidence[0].download_path, headers=auth(merchant_a_token))
    assert_problem(other, 404)


async def test_deliveries_missed_while_the_receiver_is_down_arrive_once_it_is_back(
    first_delivery: FirstDelivery, gateway: httpx.AsyncClient, consumer_token: str, complaint_body: ComplaintBody,
    enterprise: Enterprise, receiver: WebhookReceiver, webhook_secret: str, odr: OdrClient, e2e_stack: Stack,
    eventually: Eventually,
) -> None:
    assert not await e2e_stack.wait_settled()

    async def nothing_pending() -> bool:
        return not (await odr.list_deliveries(status="pending")).items

    await eventually(nothing_pending, what="delivery of everything owed before the outage")
    await receiver.stop()
    try:
        complaint = await file_against(gateway, consumer_token, complaint_body, enterprise.merchant_id)

        async def failed_routed_delivery() -> Delivery | None:
            pending = (await odr.list_deliveries(status="pending")).items
            return next((item for item in pending if item.event_type == ROUTED and item.last_error), None)

        failed = await eventually(failed_routed_delivery, what="a failed attempt to deliver the routed event")
        assert failed.attempts >= 1
    finally:
        await receiver.start()

    async def arrived() -> WebhookEvent | None:
        return routed_event_of(receiver.verified(webhook_secret), complaint["id"])

    event = await eventually(arrived, what="the retried webhook")
    assert event.webhook_id == str(failed.id)

    async def recorded_as_delivered() -> dict[str, Any] | None:
        # The receiver has the request a moment before the dispatcher records the answer.
        detail: dict[str, Any] = (await odr.request("GET", f"/v1/merchant/webhook/deliveries/{failed.id}")).json()
        return detail if detail["status"] == "delivered" else None

    detail = await eventually(recorded_as_delivered, what="the delivery log recording the delivery")
    assert detail["attempt_log"][0]["error"], detail
    assert 200 <= detail["attempt_log"][-1]["status_code"] < 300, detail


async def test_manual_redelivery_sends_the_same_webhook_id_again(
    first_delivery: FirstDelivery, receiver: WebhookReceiver, webhook_secret: str, odr: OdrClient,
    eventually: Eventually,
) -> None:
    webhook_id = first_delivery.event.webhook_id
    await odr.redeliver(webhook_id)

    async def sent_again() -> list[WebhookEvent]:
        copies = [event for event in receiver.verified(webhook_secret) if event.webhook_id == webhook_id]
        return copies if len(copies) >= 2 else []

    copies = await eventually(sent_again, what="the redelivery")
    assert copies[-1].data == first_delivery.event.data


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    # Loopback beyond the e2e allow-list (127.0.0.1 only). `localhost` resolves to 127.0.0.1 here, which that
    # allow-list admits; the merchants service's own tests refuse it with the allow-list empty.
    "http://127.0.0.2/hook",
    "http://[::1]/hook",
])
async def test_webhook_to_a_non_public_address_is_refused_and_the_old_one_kept(
    url: str, webhook_secret: str, receiver: WebhookReceiver, odr: OdrClient,
) -> None:
    with pytest.raises(OdrApiError) as refused:
        await odr.configure_webhook(url)
    assert refused.value.status == 422, refused.value.problem
    assert "url" in str(refused.value.errors), refused.value.problem
    assert (await odr.get_webhook()).url == receiver.url


async def _status_with(gateway: httpx.AsyncClient, token: str) -> int:
    return (await gateway.get("/v1/merchant/cases", headers=auth(token))).status_code


async def _credentials_grant(gateway: httpx.AsyncClient, enterprise: Enterprise) -> httpx.Response:
    return await gateway.post("/auth/token", data={"grant_type": "client_credentials",
                                                   "client_id": enterprise.client_id,
                                                   "client_secret": enterprise.client_secret})


async def test_suspension_routes_the_next_complaint_to_the_regulator_and_reinstatement_restores_the_token(
    first_delivery: FirstDelivery, gateway: httpx.AsyncClient, regulator_token: str, consumer_token: str,
    complaint_body: ComplaintBody, enterprise: Enterprise, odr: OdrClient, e2e_stack: Stack, eventually: Eventually,
) -> None:
    token = await odr.access_token()
    assert await _status_with(gateway, token) == 200
    suspended = await gateway.post(f"/v1/regulator/merchants/{enterprise.merchant_id}/suspend",
                                   json={"reason": "多次逾期未处理投诉"}, headers=auth(regulator_token))
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert not await e2e_stack.wait_settled()
    complaint = await file_against(gateway, consumer_token, complaint_body, enterprise.merchant_id)
    assert complaint["status"] == "pending_acceptance"

    async def refused() -> bool:
        return await _status_with(gateway, token) == 401

    await eventually(refused, within=REVOCATION_BITES_WITHIN, what="refusal of the suspended enterprise's token")
    assert (await _credentials_grant(gateway, enterprise)).status_code == 401

    reinstated = await gateway.post(f"/v1/regulator/merchants/{enterprise.merchant_id}/reinstate",
                                    json={"reason": "已整改"}, headers=auth(regulator_token))
    assert reinstated.status_code == 200, reinstated.text

    async def accepted_again() -> bool:
        return await _status_with(gateway, token) == 200

    await eventually(accepted_again, within=REVOCATION_BITES_WITHIN, what="the reinstated token working")


async def test_revocation_makes_the_live_token_useless_within_5_seconds(
    gateway: httpx.AsyncClient, regulator_token: str, enterprise: Enterprise, odr: OdrClient, eventually: Eventually,
) -> None:
    token = await odr.access_token()
    assert await _status_with(gateway, token) == 200
    revoked = await gateway.post(f"/v1/regulator/merchants/{enterprise.merchant_id}/revoke",
                                 json={"reason": "严重违反承诺"}, headers=auth(regulator_token))
    assert revoked.status_code == 200, revoked.text
    revoked_at = time.monotonic()

    async def refused() -> bool:
        return await _status_with(gateway, token) == 401

    await eventually(refused, within=REVOCATION_BITES_WITHIN + 1, what="refusal of the revoked token")
    assert time.monotonic() - revoked_at < REVOCATION_BITES_WITHIN
    assert (await _credentials_grant(gateway, enterprise)).status_code == 401
