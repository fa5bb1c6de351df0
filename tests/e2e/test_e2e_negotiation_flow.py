"""Negotiation and mediation through the gateway with every service running (issue 5): a complaint settled by
offer, counter, acceptance and confirmed fulfilment; one escalated, accepted and terminated by the regulator; and
who may not see or act on a case."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from odr_runner.credentials import JWT_ISSUER
from odr_runner.stack import Stack
from servicekit.auth import Audience, Role, TokenIssuer
from servicekit.calendar import local_date
from servicekit.db import utcnow

pytestmark = pytest.mark.e2e

ComplaintBody = Callable[..., dict[str, Any]]
Eventually = Callable[..., Any]

REGION = "632801"
AMOUNT_FEN = 29900


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    request = response.request
    assert response.status_code == status, f"{request.method} {request.url.path}: {response.status_code} " \
                                           f"{response.text[:500]}"
    body: dict[str, Any] = response.json()
    return body


class Parties:
    """The consumer, enterprise B (the respondent), enterprise A (a stranger to the case) and Golmud's regulator."""

    def __init__(self, gateway: httpx.AsyncClient, consumer: str, enterprise: str, other_enterprise: str,
                 regulator: str) -> None:
        self.gateway = gateway
        self.consumer = auth(consumer)
        self.enterprise = auth(enterprise)
        self.other_enterprise = auth(other_enterprise)
        self.regulator = auth(regulator)

    async def complaint(self, complaint_id: str) -> dict[str, Any]:
        return ok(await self.gateway.get(f"/v1/consumer/complaints/{complaint_id}", headers=self.consumer))


@pytest.fixture(scope="module")
def parties(gateway: httpx.AsyncClient, consumer_token: str, merchant_b_token: str, merchant_a_token: str,
            regulator_token: str) -> Parties:
    return Parties(gateway, consumer_token, merchant_b_token, merchant_a_token, regulator_token)


@pytest.fixture(scope="module")
def file_case(
    parties: Parties, complaint_body: ComplaintBody, demo: dict[str, Any], eventually: Eventually,
) -> Callable[[], Any]:
    """Files a green-channel complaint against enterprise B; answers (complaint id, negotiation case id)."""

    async def file() -> tuple[str, str]:
        body = complaint_body()
        body["respondent"] = {"merchant_id": demo["merchants"][1]["merchant_id"]}
        filed = ok(await parties.gateway.post("/v1/consumer/complaints", json=body,
                                              headers={**parties.consumer, "Idempotency-Key": str(uuid.uuid4())}),
                   201)
        assert filed["status"] == "with_merchant", filed

        async def case_id() -> str | None:
            return (await parties.complaint(filed["id"]))["mediation_case_id"]

        return filed["id"], await eventually(case_id, what="the negotiation case of the complaint")

    return file


def fulfil_by() -> str:
    return (local_date(utcnow()) + timedelta(days=3)).isoformat()


async def test_offer_counter_accept_fulfil_confirm_closes_the_complaint_settled_with_the_amount(
    parties: Parties, file_case: Callable[[], Any], eventually: Eventually,
) -> None:
    gateway = parties.gateway
    scorecard_before = ok(await gateway.get("/v1/merchant/scorecard", headers=parties.enterprise))
    complaint_id, case_id = await file_case()

    first = ok(await gateway.post(f"/v1/merchant/cases/{case_id}/offers", headers=parties.enterprise,
                                  json={"type": "refund", "amount_fen": 15000, "fulfil_by": fulfil_by()}), 201)
    counter = {"type": "refund", "amount_fen": AMOUNT_FEN, "fulfil_by": fulfil_by()}
    countered = ok(await gateway.post(f"/v1/consumer/cases/{case_id}/offers/{first['id']}/reject",
                                      headers=parties.consumer, json={"note": "要求全额退款", "counter": counter}))
    assert countered["offer"]["status"] == "rejected"
    assert countered["counter"]["made_by"] == "consumer"
    # The enterprise answers the counter with a new offer on the consumer's terms (the counter is superseded).
    second = ok(await gateway.post(f"/v1/merchant/cases/{case_id}/offers", headers=parties.enterprise,
                                   json={"type": "refund", "amount_fen": AMOUNT_FEN, "fulfil_by": fulfil_by()}), 201)
    accepted = ok(await gateway.post(f"/v1/consumer/cases/{case_id}/offers/{second['id']}/accept",
                                     headers=parties.consumer))
    assert accepted["case_status"] == "settled"
    assert accepted["agreement"]["amount_fen"] == AMOUNT_FEN

    proof = ok(await gateway.post(f"/v1/merchant/cases/{case_id}/fulfilment", headers=parties.enterprise,
                                  json={"kind": "refund_txn", "reference": "ALIPAY-2026112800012345"}), 201)
    confirmed = ok(await gateway.post(f"/v1/consumer/cases/{case_id}/fulfilment/{proof['id']}/confirm",
                                      headers=parties.consumer, json={}))
    assert confirmed["answer"] == "confirmed"

    async def closed() -> dict[str, Any] | None:
        complaint = await parties.complaint(complaint_id)
        return complaint if complaint["status"] == "closed_settled" else None

    complaint = await eventually(closed, what="the complaint closing as settled")
    assert complaint["recovered_fen"] == AMOUNT_FEN

    async def scorecard_counts_it() -> dict[str, Any] | None:
        card = ok(await gateway.get("/v1/merchant/scorecard", headers=parties.enterprise))
        done = (card["settled"] == scorecard_before["settled"] + 1
                and card["fulfilment_confirmed"] == scorecard_before["fulfilment_confirmed"] + 1)
        return card if done else None

    card = await eventually(scorecard_counts_it, what="the scorecard counting the settled, fulfilled case")
    assert card["cases_received"] >= scorecard_before["cases_received"] + 1

    verified = ok(await gateway.get("/v1/regulator/audit/verify", params={"region": REGION},
                                    headers=parties.regulator))
    assert verified["ok"] is True, verified
    assert verified["entries"] >= 1
    assert verified["first_broken"] is None


async def test_escalation_goes_to_the_regulator_who_accepts_mediates_and_terminates(
    parties: Parties, file_case: Callable[[], Any], eventually: Eventually,
) -> None:
    gateway = parties.gateway
    complaint_id, case_id = await file_case()
    offer = ok(await gateway.post(f"/v1/merchant/cases/{case_id}/offers", headers=parties.enterprise,
                                  json={"type": "refund", "amount_fen": 5000, "fulfil_by": fulfil_by()}), 201)
    escalation = {"escalate": True, "note": "请求市场监管部门调解"}
    escalated = ok(await gateway.post(f"/v1/consumer/cases/{case_id}/offers/{offer['id']}/reject",
                                      headers=parties.consumer, json=escalation))
    assert escalated["case_status"] == "failed"

    async def with_regulator() -> bool:
        return (await parties.complaint(complaint_id))["status"] == "pending_acceptance"

    await eventually(with_regulator, what="the complaint reaching regulator intake")
    accepted = ok(await gateway.post(f"/v1/regulator/complaints/{complaint_id}/accept", headers=parties.regulator))
    assert accepted["status"] == "accepted"

    async def mediating() -> bool:
        case = ok(await gateway.get(f"/v1/regulator/cases/{case_id}", headers=parties.regulator))
        return case["status"] == "mediating" and case["stage"] == "mediation"

    await eventually(mediating, what="the case moving to regulator mediation")
    terminated = ok(await gateway.post(f"/v1/regulator/cases/{case_id}/terminate", headers=parties.regulator,
                                       json={"ground": 3, "note": "双方分歧过大，无法达成调解协议"}))
    assert terminated["case_status"] == "terminated"
    assert terminated["ground"] == 3

    async def closed() -> bool:
        return (await parties.complaint(complaint_id))["status"] == "closed_terminated"

    await eventually(closed, what="the complaint closing as terminated")


@pytest.fixture(scope="module")
def regulator_of_delingha(e2e_stack: Stack) -> dict[str, str]:
    """A regulator of 632802, a neighbouring county: signed with the stack's key, as the gateway would sign it."""
    issuer = TokenIssuer(e2e_stack.config.secrets.jwt_private_key, JWT_ISSUER)
    return auth(issuer.issue(sub="reg-delingha", aud=Audience.REGULATOR, roles=[Role.REGULATOR], region="632802"))


async def test_another_enterprise_and_another_regions_regulator_can_neither_read_nor_act(
    parties: Parties, file_case: Callable[[], Any], regulator_of_delingha: dict[str, str],
) -> None:
    gateway = parties.gateway
    complaint_id, case_id = await file_case()
    stranger = parties.other_enterprise
    assert (await gateway.get(f"/v1/merchant/cases/{case_id}", headers=stranger)).status_code == 404
    offer = await gateway.post(f"/v1/merchant/cases/{case_id}/offers", headers=stranger,
                               json={"type": "apology"})
    assert offer.status_code == 404, offer.text

    elsewhere = regulator_of_delingha
    assert (await gateway.get(f"/v1/regulator/cases/{case_id}", headers=elsewhere)).status_code == 404
    assert (await gateway.get(f"/v1/regulator/complaints/{complaint_id}", headers=elsewhere)).status_code == 404
    accept = await gateway.post(f"/v1/regulator/complaints/{complaint_id}/accept", headers=elsewhere)
    assert accept.status_code == 404, accept.text
    terminate = await gateway.post(f"/v1/regulator/cases/{case_id}/terminate", headers=elsewhere,
                                   json={"ground": 3})
    assert terminate.status_code == 404, terminate.text
    audit = await gateway.get("/v1/regulator/audit/verify", params={"region": REGION}, headers=elsewhere)
    assert audit.status_code == 403, audit.text

    # The parties themselves still see the case, untouched by the refused attempts.
    case = ok(await gateway.get(f"/v1/merchant/cases/{case_id}", headers=parties.enterprise))
    assert case["status"] == "negotiating"
    assert case["offers"] == []
