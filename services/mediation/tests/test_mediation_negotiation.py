"""Offers, counters, acceptance, decline and escalation between consumer and enterprise, through the HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from mediation_testkit import ApplyEvent, bearer, count_rows, open_case, outbox_events
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.canonical import canonical_json, sha256_hex
from servicekit.testing.plugin import Tokens

REFUND = {"type": "refund", "amount_fen": 29900, "fulfil_by": "2030-12-05", "note": "全额退款"}


class Parties:
    """One case and the tokens of its two parties."""

    def __init__(self, case_id: str, merchant_id: uuid.UUID, consumer_id: str, tokens: Tokens) -> None:
        self.case_id = case_id
        self.merchant = bearer(tokens.merchant(merchant_id))
        self.consumer = bearer(tokens.consumer(consumer_id))

    @property
    def merchant_base(self) -> str:
        return f"/v1/merchant/cases/{self.case_id}"

    @property
    def consumer_base(self) -> str:
        return f"/v1/consumer/cases/{self.case_id}"


@pytest.fixture
async def parties(apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens) -> Parties:
    merchant_id, consumer_id = uuid.uuid4(), f"consumer-{uuid.uuid4().hex[:8]}"
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id=consumer_id)
    return Parties(case_id, merchant_id, consumer_id, tokens)


async def make_offer(client: httpx.AsyncClient, parties: Parties, body: dict[str, Any] = REFUND) -> dict[str, Any]:
    response = await client.post(f"{parties.merchant_base}/offers", json=body, headers=parties.merchant)
    assert response.status_code == 201, response.text
    offer: dict[str, Any] = response.json()
    return offer


async def test_offer_then_accept_settles_with_an_agreement_both_consents_and_its_hash(
    client: httpx.AsyncClient, parties: Parties, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    offer = await make_offer(client, parties)
    assert (offer["status"], offer["made_by"], offer["amount_fen"]) == ("open", "enterprise", 29900)

    accepted = await client.post(f"{parties.consumer_base}/offers/{offer['id']}/accept", headers=parties.consumer)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["case_status"] == "settled"
    assert body["offer"]["status"] == "accepted"
    agreement = body["agreement"]
    assert agreement["amount_fen"] == 29900
    assert agreement["terms"] == {"offer_type": "refund", "amount_fen": 29900, "fulfil_by": "2030-12-05",
                                  "note": "全额退款"}
    assert agreement["consumer_consent"]["at"] > agreement["enterprise_consent"]["at"]

    detail = (await client.get(parties.consumer_base, headers=parties.consumer)).json()
    assert detail["status"] == "settled"
    assert detail["closed_at"] is not None
    assert detail["agreement"] == agreement
    async with sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT a.id, a.consumer_consent_at, a.enterprise_consent_at, c.complaint_id, c.case_no "
            "FROM settlement_agreement a JOIN mediation_case c ON c.id = a.case_id WHERE a.case_id = :id"),
            {"id": uuid.UUID(parties.case_id)})).one()
    content = {
        "agreement_id": str(row.id), "case_id": parties.case_id, "complaint_id": str(row.complaint_id),
        "case_no": row.case_no, "stage": "negotiation", "terms": agreement["terms"],
        "consents": {"consumer": {"by": agreement["consumer_consent"]["by"], "at": row.consumer_consent_at.isoformat()},
                     "enterprise": {"by": agreement["enterprise_consent"]["by"],
                                    "at": row.enterprise_consent_at.isoformat()}},
        "document_no": None, "mediator_id": None,
    }
    # The hash covers the terms as agreed, note in clear; the rows keep the note only sealed.
    assert agreement["content_hash"] == sha256_hex(canonical_json(content))
    async with sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT (SELECT string_agg(o::text, ' ') FROM offer o WHERE o.case_id = :id) || "
            "(SELECT string_agg(a::text, ' ') FROM settlement_agreement a WHERE a.case_id = :id) || "
            "(SELECT string_agg(e::text, ' ') FROM case_event e WHERE e.case_id = :id)"),
            {"id": uuid.UUID(parties.case_id)})).scalar_one()
    assert "note_sealed" in stored
    assert REFUND["note"] not in stored
    assert REFUND["note"].encode().hex() not in stored

    events = await outbox_events(sessionmaker, parties.case_id)
    assert [event_type for event_type, _ in events] == [
        "mediation.case.opened.v1", "mediation.case.offer_made.v1", "mediation.case.settled.v1"]
    settled = events[-1][1]
    assert (settled["stage"], settled["amount_fen"], settled["agreement_hash"]) == (
        "negotiation", 29900, agreement["content_hash"])
    counts = await count_rows(sessionmaker, parties.case_id)
    assert (counts["case_events"], counts["agreements"], counts["audit_entries"]) == (3, 1, 1)


async def test_one_open_offer_at_a_time_in_the_api_and_in_the_database(
    client: httpx.AsyncClient, parties: Parties, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await make_offer(client, parties)
    second = await client.post(f"{parties.merchant_base}/offers", json={"type": "apology"}, headers=parties.merchant)
    assert second.status_code == 409
    assert second.json()["open_offer_id"] == first["id"]

    async with sessionmaker() as session:
        with pytest.raises(IntegrityError, match="uq_offer_one_open_per_case"):
            await session.execute(text(
                "INSERT INTO offer (id, case_id, made_by, made_by_id, offer_type, status) "
                "VALUES (:id, :case, 'enterprise', 'x', 'apology', 'open')"),
                {"id": uuid.uuid4(), "case": uuid.UUID(parties.case_id)})

    withdrawn = await client.post(f"{parties.merchant_base}/offers/{first['id']}/withdraw", headers=parties.merchant)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["offer"]["status"] == "withdrawn"
    again = await client.post(f"{parties.merchant_base}/offers/{first['id']}/withdraw", headers=parties.merchant)
    assert again.status_code == 409
    late_accept = await client.post(f"{parties.consumer_base}/offers/{first['id']}/accept", headers=parties.consumer)
    assert late_accept.status_code == 409
    await make_offer(client, parties, {"type": "apology", "note": "抱歉"})
    assert [event for event, _ in await outbox_events(sessionmaker, parties.case_id)][1:] == [
        "mediation.case.offer_made.v1", "mediation.case.offer_answered.v1", "mediation.case.offer_made.v1"]


@pytest.mark.parametrize("body", [
    {"type": "refund", "amount_fen": -1},
    {"type": "refund", "amount_fen": 10**10 + 1},
    {"type": "compensation", "amount_fen": 10**15},
    {"type": "refund"},
    {"type": "apology", "amount_fen": 100},
    {"type": "cash", "amount_fen": 100},
    {"type": "refund", "amount_fen": 100, "fulfil_by": "2020-01-01"},
    {"type": "refund", "amount_fen": 100, "surprise": True},
])
async def test_bad_offers_are_problems_and_write_nothing(
    client: httpx.AsyncClient, parties: Parties, sessionmaker: async_sessionmaker[AsyncSession], body: dict[str, Any]
) -> None:
    before = await count_rows(sessionmaker, parties.case_id)
    response = await client.post(f"{parties.merchant_base}/offers", json=body, headers=parties.merchant)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]
    assert await count_rows(sessionmaker, parties.case_id) == before


async def test_the_largest_amount_is_accepted(client: httpx.AsyncClient, parties: Parties) -> None:
    offer = await make_offer(client, parties, {"type": "compensation", "amount_fen": 10**10})
    assert offer["amount_fen"] == 10**10


async def test_no_offer_on_a_closed_case_and_nothing_written(
    client: httpx.AsyncClient, parties: Parties, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    offer = await make_offer(client, parties)
    await client.post(f"{parties.consumer_base}/offers/{offer['id']}/accept", headers=parties.consumer)
    before = await count_rows(sessionmaker, parties.case_id)
    late = await client.post(f"{parties.merchant_base}/offers", json=REFUND, headers=parties.merchant)
    assert late.status_code == 409
    assert late.json()["current_status"] == "settled"
    decline = await client.post(f"{parties.merchant_base}/decline", json={}, headers=parties.merchant)
    assert decline.status_code == 409
    assert await count_rows(sessionmaker, parties.case_id) == before


async def test_counter_proposal_accepted_by_the_enterprise(
    client: httpx.AsyncClient, parties: Parties, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    offer = await make_offer(client, parties, {"type": "refund", "amount_fen": 10000})
    rejected = await client.post(f"{parties.consumer_base}/offers/{offer['id']}/reject", headers=parties.consumer,
                                 json={"note": "太少", "counter": {"type": "refund", "amount_fen": 29900}})
    assert rejected.status_code == 200, rejected.text
    counter = rejected.json()["counter"]
    assert (rejected.json()["offer"]["status"], counter["made_by"], counter["counter_to"]) == (
        "rejected", "consumer", offer["id"])
    own_accept = await client.post(f"{parties.consumer_base}/offers/{counter['id']}/accept", headers=parties.consumer)
    assert own_accept.status_code == 409
    accepted = await client.post(f"{parties.merchant_base}/offers/{counter['id']}/accept", headers=parties.merchant)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["agreement"]["amount_fen"] == 29900
    settled = (await outbox_events(sessionmaker, parties.case_id))[-1]
    assert settled[0] == "mediation.case.settled.v1"
    assert settled[1]["amount_fen"] == 29900


async def test_a_new_enterprise_offer_supersedes_an_open_counter(client: httpx.AsyncClient, parties: Parties) -> None:
    offer = await make_offer(client, parties, {"type": "refund", "amount_fen": 10000})
    counter = (await client.post(f"{parties.consumer_base}/offers/{offer['id']}/reject", headers=parties.consumer,
                                 json={"counter": {"type": "replacement"}})).json()["counter"]
    await make_offer(client, parties, {"type": "refund", "amount_fen": 20000})
    detail = (await client.get(parties.merchant_base, headers=parties.merchant)).json()
    assert [(item["made_by"], item["status"]) for item in detail["offers"]] == [
        ("enterprise", "rejected"), ("consumer", "superseded"), ("enterprise", "open")]
    assert detail["offers"][1]["id"] == counter["id"]


async def test_consumer_escalation_and_enterprise_decline_fail_the_negotiation(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    parties: Parties, tokens: Tokens
) -> None:
    offer = await make_offer(client, parties)
    escalated = await client.post(f"{parties.consumer_base}/offers/{offer['id']}/reject", headers=parties.consumer,
                                  json={"escalate": True, "note": "要求市场监管部门调解"})
    assert escalated.status_code == 200
    assert escalated.json()["case_status"] == "failed"
    failed = (await outbox_events(sessionmaker, parties.case_id))[-1]
    assert failed[0] == "mediation.case.negotiation_failed.v1"
    assert failed[1]["reason"] == "consumer_escalated"

    merchant_id = uuid.uuid4()
    other = await open_case(apply_event, sessionmaker, merchant_id=merchant_id)
    declined = await client.post(f"/v1/merchant/cases/{other}/decline", json={"note": "不同意"},
                                 headers=bearer(tokens.merchant(merchant_id)))
    assert declined.status_code == 200
    assert declined.json() == {"case_status": "failed", "failure_reason": "enterprise_declined"}
    assert (await outbox_events(sessionmaker, other))[-1][1]["reason"] == "enterprise_declined"
    both = await client.post(f"{parties.consumer_base}/offers/{offer['id']}/reject", headers=parties.consumer,
                             json={"escalate": True, "counter": {"type": "apology"}})
    assert both.status_code == 422


async def test_only_the_case_s_enterprise_makes_offers(client: httpx.AsyncClient, parties: Parties,
                                                       tokens: Tokens) -> None:
    stranger = await client.post(f"{parties.merchant_base}/offers", json=REFUND,
                                 headers=bearer(tokens.merchant(uuid.uuid4())))
    assert stranger.status_code == 404
    consumer = await client.post(f"{parties.merchant_base}/offers", json=REFUND, headers=parties.consumer)
    assert consumer.status_code == 403


async def test_accept_racing_withdraw_exactly_one_wins(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    for _ in range(6):
        merchant_id, consumer_id = uuid.uuid4(), f"consumer-{uuid.uuid4().hex[:8]}"
        case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id=consumer_id)
        parties = Parties(case_id, merchant_id, consumer_id, tokens)
        offer = await make_offer(client, parties)
        accept, withdraw = await asyncio.gather(
            client.post(f"{parties.consumer_base}/offers/{offer['id']}/accept", headers=parties.consumer),
            client.post(f"{parties.merchant_base}/offers/{offer['id']}/withdraw", headers=parties.merchant),
        )
        assert sorted([accept.status_code, withdraw.status_code]) == [200, 409]
        detail = (await client.get(parties.consumer_base, headers=parties.consumer)).json()
        won = "accept" if accept.status_code == 200 else "withdraw"
        expected = ("settled", "accepted") if won == "accept" else ("negotiating", "withdrawn")
        assert (detail["status"], detail["offers"][0]["status"]) == expected
        assert (detail["agreement"] is not None) == (won == "accept")
