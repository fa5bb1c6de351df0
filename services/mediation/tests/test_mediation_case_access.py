"""Who may read a case: the enterprise it is against and the consumer who filed it, nobody else."""

from __future__ import annotations

import uuid

import httpx
from mediation_testkit import DUE_DATE, ApplyEvent, routed_event

from servicekit.calendar import local_date, working_days_after
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens


async def open_case(apply_event: ApplyEvent, client: httpx.AsyncClient, tokens: Tokens, merchant_id: uuid.UUID,
                    consumer_id: str = "consumer-1") -> dict[str, object]:
    event = routed_event(merchant_id=merchant_id, consumer_id=consumer_id)
    await apply_event(event)
    listing = await client.get("/v1/merchant/cases", headers=bearer(tokens.merchant(merchant_id)))
    assert listing.status_code == 200, listing.text
    case: dict[str, object] = next(item for item in listing.json()["items"]
                                   if item["complaint_id"] == event.data["complaint_id"])
    return case


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_merchant_lists_its_case_and_another_merchant_sees_nothing(
    apply_event: ApplyEvent, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    merchant_a, merchant_b = uuid.uuid4(), uuid.uuid4()
    event = routed_event(merchant_id=merchant_a, consumer_id="consumer-a")
    await apply_event(event)

    listing = await client.get("/v1/merchant/cases", headers=bearer(tokens.merchant(merchant_a)))
    assert listing.status_code == 200
    body = listing.json()
    assert body["next_cursor"] is None
    [case] = body["items"]
    assert case["complaint_id"] == event.data["complaint_id"]
    assert case["case_no"] == event.data["case_no"]
    assert case["status"] == "negotiating"
    assert case["deadlines"] == [{"kind": "merchant_negotiation", "due_date": DUE_DATE.isoformat(),
                                  "state": "running",
                                  "working_days_left": working_days_after(local_date(utcnow()), DUE_DATE)}]
    assert case["complainant"] == {"name": "王芳", "phone_masked": "138****8000"}
    assert case["request"] == {"type": "refund", "amount_fen": 29900}
    assert case["facts"] == "购买的枸杞与网页宣传不符"
    assert "consumer_id" not in case

    own = await client.get(f"/v1/merchant/cases/{case['id']}", headers=bearer(tokens.merchant(merchant_a)))
    assert own.status_code == 200
    detail = own.json()
    assert {name: detail[name] for name in case} == case
    assert (detail["stage"], detail["offers"], detail["agreement"], detail["messages"]) == ("negotiation", [], None, [])

    other_list = await client.get("/v1/merchant/cases", headers=bearer(tokens.merchant(merchant_b)))
    assert other_list.status_code == 200
    assert other_list.json() == {"items": [], "next_cursor": None}
    other_get = await client.get(f"/v1/merchant/cases/{case['id']}", headers=bearer(tokens.merchant(merchant_b)))
    assert other_get.status_code == 404
    assert other_get.headers["content-type"] == "application/problem+json"
    assert other_get.json()["type"] == "/problems/not-found"


async def test_status_filter_and_cursor_pages_newest_first(
    apply_event: ApplyEvent, client: httpx.AsyncClient, tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    headers = bearer(tokens.merchant(merchant_id))
    complaint_ids = []
    for _ in range(3):
        event = routed_event(merchant_id=merchant_id)
        await apply_event(event)
        complaint_ids.append(event.data["complaint_id"])

    first = (await client.get("/v1/merchant/cases", params={"limit": 2}, headers=headers)).json()
    assert [item["complaint_id"] for item in first["items"]] == complaint_ids[:0:-1]
    assert first["next_cursor"]
    second = (await client.get("/v1/merchant/cases", params={"limit": 2, "cursor": first["next_cursor"]},
                               headers=headers)).json()
    assert [item["complaint_id"] for item in second["items"]] == complaint_ids[:1]
    assert second["next_cursor"] is None

    negotiating = (await client.get("/v1/merchant/cases", params={"status": "negotiating"}, headers=headers)).json()
    settled = (await client.get("/v1/merchant/cases", params={"status": "settled"}, headers=headers)).json()
    assert len(negotiating["items"]) == 3
    assert settled["items"] == []

    bad_status = await client.get("/v1/merchant/cases", params={"status": "lost"}, headers=headers)
    bad_cursor = await client.get("/v1/merchant/cases", params={"cursor": "!!"}, headers=headers)
    assert bad_status.status_code == bad_cursor.status_code == 422


async def test_consumer_reads_own_case_only(apply_event: ApplyEvent, client: httpx.AsyncClient,
                                           tokens: Tokens) -> None:
    case = await open_case(apply_event, client, tokens, uuid.uuid4(), consumer_id="consumer-owner")
    own = await client.get(f"/v1/consumer/cases/{case['id']}", headers=bearer(tokens.consumer("consumer-owner")))
    assert own.status_code == 200
    assert own.json()["complaint_id"] == case["complaint_id"]
    other = await client.get(f"/v1/consumer/cases/{case['id']}", headers=bearer(tokens.consumer("consumer-other")))
    assert other.status_code == 404
    missing = await client.get(f"/v1/consumer/cases/{uuid.uuid4()}", headers=bearer(tokens.consumer("consumer-owner")))
    assert missing.status_code == 404


async def test_wrong_audience_is_403_and_no_token_is_401(apply_event: ApplyEvent, client: httpx.AsyncClient,
                                                         tokens: Tokens) -> None:
    merchant_id = uuid.uuid4()
    case = await open_case(apply_event, client, tokens, merchant_id, consumer_id="consumer-aud")
    consumer_on_merchant = await client.get("/v1/merchant/cases", headers=bearer(tokens.consumer("consumer-aud")))
    regulator_on_merchant = await client.get(f"/v1/merchant/cases/{case['id']}", headers=bearer(tokens.regulator()))
    merchant_on_consumer = await client.get(f"/v1/consumer/cases/{case['id']}",
                                            headers=bearer(tokens.merchant(merchant_id)))
    for response in (consumer_on_merchant, regulator_on_merchant, merchant_on_consumer):
        assert response.status_code == 403
        assert response.json()["type"] == "/problems/forbidden"
    anonymous = await client.get("/v1/merchant/cases")
    assert anonymous.status_code == 401
