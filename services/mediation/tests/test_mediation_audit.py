"""The per-region outcome chain: verification over HTTP and offline, tampering found, review samples (Art. 26)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from mediation_testkit import ApplyEvent, bearer, open_case, settle_case
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.settings import MediationSettings
from servicekit.testing.plugin import Tokens

# Regions no other test writes to: tampering with them breaks nobody else's chain.
TAMPERED_REGION = "632822"
REVIEW_REGION = "632823"
SERVICE_DIR = Path(__file__).resolve().parents[1]


async def build_outcomes(client: httpx.AsyncClient, apply_event: ApplyEvent,
                         sessionmaker: async_sessionmaker[AsyncSession], tokens: Tokens, region: str) -> list[str]:
    """Two settled cases and one failed negotiation in `region`: three chain entries, oldest first."""
    case_ids = []
    for amount in (10000, 20000):
        merchant_id = uuid.uuid4()
        case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-chain",
                                  region_code=region)
        await settle_case(client, case_id=case_id, merchant=bearer(tokens.merchant(merchant_id)),
                          consumer=bearer(tokens.consumer("consumer-chain")),
                          offer={"type": "refund", "amount_fen": amount})
        case_ids.append(case_id)
    merchant_id = uuid.uuid4()
    declined = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, region_code=region)
    response = await client.post(f"/v1/merchant/cases/{declined}/decline", json={},
                                 headers=bearer(tokens.merchant(merchant_id)))
    assert response.status_code == 200
    return [*case_ids, declined]


def offline_verify(settings: MediationSettings, region: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "ODR_DATABASE_URL": settings.database_url, "ODR_DATABASE_NAME": settings.database_name or ""}
    done = subprocess.run([sys.executable, "-m", "mediation.cli", "verify", "--region", region], env=env,
                          cwd=SERVICE_DIR, capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, json.loads(done.stdout)


async def test_chain_verifies_then_names_the_tampered_entry_online_and_offline(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings
) -> None:
    case_ids = await build_outcomes(client, apply_event, sessionmaker, tokens, TAMPERED_REGION)
    regulator = bearer(tokens.regulator(region="632800"))
    verified = await client.get("/v1/regulator/audit/verify", params={"region": TAMPERED_REGION}, headers=regulator)
    assert verified.status_code == 200
    assert verified.json() == {"region": TAMPERED_REGION, "ok": True, "entries": 3, "first_broken": None}
    code, offline = await asyncio.to_thread(offline_verify, settings, TAMPERED_REGION)
    assert (code, offline["ok"], offline["entries"]) == (0, True, 3)

    async with sessionmaker() as session, session.begin():
        # A forged amount in the second outcome's entry, as someone with database access might write it.
        await session.execute(text(
            "UPDATE audit_entry SET entry = jsonb_set(entry, '{details,amount_fen}', '99900') "
            "WHERE region_code = :region AND seq = 2"), {"region": TAMPERED_REGION})
    broken = (await client.get("/v1/regulator/audit/verify", params={"region": TAMPERED_REGION},
                               headers=regulator)).json()
    assert (broken["ok"], broken["entries"]) == (False, 1)
    assert broken["first_broken"]["seq"] == 2
    assert broken["first_broken"]["case_id"] == case_ids[1]
    assert broken["first_broken"]["reason"] == "hash"
    code, offline = await asyncio.to_thread(offline_verify, settings, TAMPERED_REGION)
    assert code == 1
    assert offline["first_broken"]["seq"] == 2


async def test_changing_an_agreement_row_breaks_its_chain_entry(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    region = "632857"
    case_ids = await build_outcomes(client, apply_event, sessionmaker, tokens, region)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE settlement_agreement SET amount_fen = 1 WHERE case_id = :id"),
                              {"id": uuid.UUID(case_ids[0])})
    broken = (await client.get("/v1/regulator/audit/verify", params={"region": region},
                               headers=bearer(tokens.regulator(region="632800")))).json()
    assert broken["ok"] is False
    assert (broken["first_broken"]["seq"], broken["first_broken"]["reason"]) == (1, "agreement")


async def test_verification_is_for_the_region_s_own_staff(client: httpx.AsyncClient, tokens: Tokens) -> None:
    other = await client.get("/v1/regulator/audit/verify", params={"region": "632801"},
                             headers=bearer(tokens.regulator(region="630100")))
    assert other.status_code == 403
    bad = await client.get("/v1/regulator/audit/verify", params={"region": "63"},
                           headers=bearer(tokens.regulator()))
    assert bad.status_code == 422
    empty = await client.get("/v1/regulator/audit/verify", params={"region": "632821"},
                             headers=bearer(tokens.regulator(region="632821")))
    assert empty.json() == {"region": "632821", "ok": True, "entries": 0, "first_broken": None}


async def test_regulators_sample_closed_cases_once_and_record_results(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    case_ids = await build_outcomes(client, apply_event, sessionmaker, tokens, REVIEW_REGION)
    regulator = bearer(tokens.regulator(region=REVIEW_REGION))
    sample = await client.post("/v1/regulator/reviews/sample", params={"region": REVIEW_REGION, "size": 5},
                               headers=regulator)
    assert sample.status_code == 200
    drawn = sample.json()["items"]
    # The failed negotiation is not closed (it waits for the regulator), so only the two settled cases qualify.
    assert sorted(item["case_id"] for item in drawn) == sorted(case_ids[:2])
    again = await client.post("/v1/regulator/reviews/sample", params={"region": REVIEW_REGION, "size": 5},
                              headers=regulator)
    assert again.json()["items"] == []

    result = {"method": "follow_up_call", "outcome": "satisfactory", "note": "消费者确认已退款"}
    recorded = await client.post(f"/v1/regulator/reviews/{drawn[0]['id']}/result", json=result, headers=regulator)
    assert recorded.status_code == 200
    assert (recorded.json()["outcome"], recorded.json()["reviewed_by"]) == ("satisfactory", "reg-golmud")
    twice = await client.post(f"/v1/regulator/reviews/{drawn[0]['id']}/result", json=result, headers=regulator)
    assert twice.status_code == 409
    outsider = await client.post(f"/v1/regulator/reviews/{drawn[1]['id']}/result", json=result,
                                 headers=bearer(tokens.regulator(region="630100")))
    assert outsider.status_code == 404
    listed = (await client.get("/v1/regulator/reviews", params={"region": REVIEW_REGION}, headers=regulator)).json()
    assert {item["id"]: item["outcome"] for item in listed["items"]} == {drawn[0]["id"]: "satisfactory",
                                                                       drawn[1]["id"]: None}


async def test_concurrent_outcomes_of_a_region_append_one_after_another(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    region = "632803"
    accepts = []
    for _ in range(5):
        merchant_id = uuid.uuid4()
        case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-many",
                                  region_code=region)
        offer = await client.post(f"/v1/merchant/cases/{case_id}/offers", json={"type": "apology"},
                                  headers=bearer(tokens.merchant(merchant_id)))
        accepts.append(client.post(f"/v1/consumer/cases/{case_id}/offers/{offer.json()['id']}/accept",
                                   headers=bearer(tokens.consumer("consumer-many"))))
    responses = await asyncio.gather(*accepts)
    assert [response.status_code for response in responses] == [200] * 5
    async with sessionmaker() as session:
        seqs = (await session.execute(text("SELECT seq FROM audit_entry WHERE region_code = :region ORDER BY seq"),
                                      {"region": region})).scalars().all()
    assert seqs == [1, 2, 3, 4, 5]
    verified = (await client.get("/v1/regulator/audit/verify", params={"region": region},
                                 headers=bearer(tokens.regulator(region=region)))).json()
    assert (verified["ok"], verified["entries"]) == (True, 5)
