"""Regulator mediation: opening on acceptance, mediators and delegation, the 60-day clock, outcomes, access."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from mediation_testkit import PII_KEY, ApplyEvent, accepted_event, bearer, open_case, outbox_events, withdrawn_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.regulator import service as regulator_service
from mediation.settings import MediationSettings
from servicekit.auth import Audience, Principal, Role
from servicekit.calendar import add_calendar_days, add_working_days, local_date, working_days_after
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.problems import Problem
from servicekit.testing.plugin import Tokens

CIPHER = PiiCipher(PII_KEY)

REGULATOR = "reg-golmud"


def mediator_token(tokens: Tokens, sub: str, region: str = "632801") -> dict[str, str]:
    return bearer(tokens.issuer.issue(sub=sub, aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region=region))


async def complaint_of(sessionmaker: async_sessionmaker[AsyncSession], case_id: str) -> uuid.UUID:
    async with sessionmaker() as session:
        complaint_id: uuid.UUID = await session.scalar(
            text("SELECT complaint_id FROM mediation_case WHERE id = :id"), {"id": uuid.UUID(case_id)})
    return complaint_id


async def mediation_case(apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
                         accepted_at: datetime | None = None, consumer_id: str = "consumer-med") -> str:
    """A complaint accepted by the regulator with no negotiation before it: a new mediation case."""
    complaint_id = uuid.uuid4()
    await apply_event(accepted_event(complaint_id=complaint_id, merchant_id=uuid.uuid4(),
                                     accepted_at=accepted_at or utcnow(), consumer_id=consumer_id))
    async with sessionmaker() as session:
        case_id = await session.scalar(text("SELECT id FROM mediation_case WHERE complaint_id = :id"),
                                       {"id": complaint_id})
    return str(case_id)


async def assign(client: httpx.AsyncClient, tokens: Tokens, case_id: str, **body: Any) -> httpx.Response:
    payload = {"mediator_kind": "regulator_staff", "mediator_id": REGULATOR, "mediator_region": "632801", **body}
    return await client.post(f"/v1/regulator/cases/{case_id}/assign", json=payload,
                             headers=bearer(tokens.regulator()))


async def test_acceptance_moves_the_failed_negotiation_to_mediation_with_a_60_day_clock(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-acc")
    await client.post(f"/v1/merchant/cases/{case_id}/decline", json={}, headers=bearer(tokens.merchant(merchant_id)))
    accepted_at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    accepted = accepted_event(complaint_id=await complaint_of(sessionmaker, case_id), merchant_id=merchant_id,
                              accepted_at=accepted_at, consumer_id="consumer-acc")
    await apply_event(accepted)
    await apply_event(accepted)

    detail = (await client.get(f"/v1/regulator/cases/{case_id}", headers=bearer(tokens.regulator()))).json()
    assert (detail["status"], detail["stage"]) == ("mediating", "mediation")
    expected_due = add_calendar_days(date(2026, 11, 30), 60)
    assert {"kind": "mediation", "due_date": expected_due.isoformat(), "state": "running",
            "working_days_left": working_days_after(local_date(utcnow()), expected_due)} in detail["deadlines"]
    opened = [payload for event, payload in await outbox_events(sessionmaker, case_id)
              if event == "mediation.case.opened.v1"]
    assert [payload["status"] for payload in opened] == ["negotiating", "mediating"]
    assert opened[1]["due_date"] == expected_due.isoformat()


async def test_acceptance_without_negotiation_opens_a_mediation_case(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    case_id = await mediation_case(apply_event, sessionmaker, consumer_id="consumer-new")
    own = await client.get(f"/v1/consumer/cases/{case_id}", headers=bearer(tokens.consumer("consumer-new")))
    assert own.status_code == 200
    assert (own.json()["status"], own.json()["stage"], own.json()["mediator"]) == ("mediating", "mediation", None)
    staff = await client.get(f"/v1/regulator/cases/{case_id}", headers=bearer(tokens.regulator()))
    assert staff.json()["complainant"]["name"] == "王芳"
    async with sessionmaker() as session:
        reads = (await session.execute(text(
            "SELECT actor_role, actor_id FROM case_event WHERE case_id = :id AND kind = 'read_by_staff'"),
            {"id": uuid.UUID(case_id)})).all()
    assert [tuple(row) for row in reads] == [("regulator", REGULATOR)]


async def test_delegation_needs_consent_happens_once_and_scopes_who_reads_the_case(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    case_id = await mediation_case(apply_event, sessionmaker)
    no_consent = await assign(client, tokens, case_id, mediator_kind="consumer_association", mediator_id="xiaoxie-1")
    assert no_consent.status_code == 422
    far_away = await assign(client, tokens, case_id, mediator_kind="consumer_association", mediator_id="xiaoxie-1",
                            mediator_region="630100", parties_consented=True)
    assert far_away.status_code == 422
    delegated = await assign(client, tokens, case_id, mediator_kind="consumer_association", mediator_id="xiaoxie-1",
                             parties_consented=True)
    assert delegated.status_code == 200, delegated.text
    assert (delegated.json()["delegated"], delegated.json()["mediator_id"]) == (True, "xiaoxie-1")
    again = await assign(client, tokens, case_id, mediator_kind="service_station", mediator_id="station-9",
                         parties_consented=True)
    assert again.status_code == 409
    by_mediator = await client.post(
        f"/v1/regulator/cases/{case_id}/assign", headers=mediator_token(tokens, "xiaoxie-1"),
        json={"mediator_kind": "service_station", "mediator_id": "station-9", "mediator_region": "632801",
              "parties_consented": True})
    assert by_mediator.status_code == 403

    assigned = await client.get(f"/v1/regulator/cases/{case_id}", headers=mediator_token(tokens, "xiaoxie-1"))
    assert assigned.status_code == 200
    assert assigned.json()["mediator"] == {"kind": "consumer_association", "id": "xiaoxie-1", "region_code": "632801",
                                           "delegated": True}
    for outsider in (mediator_token(tokens, "xiaoxie-1", region="630100"), mediator_token(tokens, "xiaoxie-2"),
                     bearer(tokens.regulator(region="630100", sub="reg-xining"))):
        response = await client.get(f"/v1/regulator/cases/{case_id}", headers=outsider)
        assert response.status_code == 404
    taken_back = await assign(client, tokens, case_id)
    assert (taken_back.status_code, taken_back.json()["delegated"]) == (200, False)
    # Staff who mediate the case themselves still hand it on.
    handed_on = await assign(client, tokens, case_id, mediator_id="reg-colleague")
    assert (handed_on.status_code, handed_on.json()["mediator_id"]) == (200, "reg-colleague")
    events = [payload for event, payload in await outbox_events(sessionmaker, case_id)
              if event == "mediation.case.mediator_assigned.v1"]
    assert [(payload["mediator_kind"], payload["delegated"]) for payload in events] == [
        ("consumer_association", True), ("regulator_staff", False), ("regulator_staff", False)]


async def test_appraisal_time_is_excluded_from_the_clock(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
    settings: MediationSettings
) -> None:
    accepted_at = utcnow()
    case_id = await mediation_case(apply_event, sessionmaker, accepted_at=accepted_at)
    principal = Principal(sub=REGULATOR, aud=Audience.REGULATOR, roles=frozenset({Role.REGULATOR}), region="632801")
    paused_at = accepted_at + timedelta(days=3)
    async with sessionmaker() as session:
        await regulator_service.pause_for_appraisal(session, outbox=outbox, cipher=CIPHER, case_id=uuid.UUID(case_id),
                                                    principal=principal, note="送检", now=paused_at)
    async with sessionmaker() as session:
        with pytest.raises(Problem, match="already paused"):
            await regulator_service.pause_for_appraisal(session, outbox=outbox, cipher=CIPHER,
                                                        case_id=uuid.UUID(case_id),
                                                        principal=principal, note=None, now=paused_at)
    async with sessionmaker() as session:
        case = await regulator_service.resume_after_appraisal(
            session, outbox=outbox, cipher=CIPHER, settings=settings, case_id=uuid.UUID(case_id), principal=principal,
                note=None,
            now=paused_at + timedelta(days=12))
    assert case.paused_days == 12
    assert case.mediation_due_date == add_calendar_days(local_date(accepted_at), 60 + 12)
    resumed = [payload for event, payload in await outbox_events(sessionmaker, case_id)
               if event == "mediation.case.clock_resumed.v1"]
    assert resumed[0]["mediation_due_date"] == case.mediation_due_date.isoformat()


async def test_recusal_suspends_mediation_until_decided(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    case_id = await mediation_case(apply_event, sessionmaker)
    await assign(client, tokens, case_id, mediator_id="reg-mediator")
    regulator = bearer(tokens.regulator())
    suspended = await client.post(f"/v1/regulator/cases/{case_id}/recusal", headers=regulator,
                                  json={"requested_by": "enterprise", "note": "调解员与消费者相识"})
    assert (suspended.status_code, suspended.json()["case_status"], suspended.json()["paused"]) == (
        200, "suspended", True)
    agreement = await client.post(f"/v1/regulator/cases/{case_id}/agreement",
                                  headers=mediator_token(tokens, "reg-mediator"), json={
                                      "type": "refund", "amount_fen": 100, "document_no": "D-1",
                                      "consumer_consent_at": utcnow().isoformat(),
                                      "enterprise_consent_at": utcnow().isoformat()})
    assert agreement.status_code == 409
    decided = await client.post(f"/v1/regulator/cases/{case_id}/recusal/decision", headers=regulator,
                                json={"upheld": True})
    assert decided.status_code == 200
    assert (decided.json()["case_status"], decided.json()["paused"], decided.json()["mediator_id"]) == (
        "mediating", False, None)
    removed = await client.get(f"/v1/regulator/cases/{case_id}", headers=mediator_token(tokens, "reg-mediator"))
    assert removed.status_code == 404
    assert (await client.get(f"/v1/regulator/cases/{case_id}", headers=regulator)).json()["mediator"] is None


@pytest.mark.parametrize(("mediator_kind", "mediator_id", "settled_by"), [
    ("service_station", "station-7", "station"), ("regulator_staff", "reg-mediator-7", "regulator_mediation")])
async def test_the_mediator_records_the_signed_agreement_and_the_case_settles(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, mediator_kind: str, mediator_id: str, settled_by: str
) -> None:
    case_id = await mediation_case(apply_event, sessionmaker)
    await assign(client, tokens, case_id, mediator_kind=mediator_kind, mediator_id=mediator_id,
                 parties_consented=True)
    signed = utcnow() - timedelta(minutes=5)
    body = {"type": "compensation", "amount_fen": 59800, "fulfil_by": "2030-01-10",
            "document_no": "格市监调〔2026〕1号",
            "consumer_consent_at": signed.isoformat(), "enterprise_consent_at": signed.isoformat()}
    by_staff = await client.post(f"/v1/regulator/cases/{case_id}/agreement", json=body,
                                 headers=bearer(tokens.regulator()))
    assert by_staff.status_code == 403
    recorded = await client.post(f"/v1/regulator/cases/{case_id}/agreement", json=body,
                                 headers=mediator_token(tokens, mediator_id))
    assert recorded.status_code == 201, recorded.text
    agreement = recorded.json()
    assert (agreement["stage"], agreement["document_no"], agreement["mediator_id"]) == (
        "mediation", "格市监调〔2026〕1号", mediator_id)
    # The outcome record names who settled it: the station the case was delegated to, or the regulator's mediator.
    record = (await client.get(f"/v1/regulator/audit/outcomes/{case_id}", headers=bearer(tokens.regulator()))).json()
    assert (record["settled_by"], record["stage"], record["mediator_id"], record["agreed"]) == (
        settled_by, "mediation", mediator_id, {"type": "compensation", "amount_fen": 59800})
    settled = (await outbox_events(sessionmaker, case_id))[-1]
    assert settled[0] == "mediation.case.settled.v1"
    assert (settled[1]["stage"], settled[1]["amount_fen"], settled[1]["document_no"]) == (
        "mediation", 59800, "格市监调〔2026〕1号")
    verify = (await client.get("/v1/regulator/audit/verify", params={"region": "632801"},
                               headers=bearer(tokens.regulator()))).json()
    assert verify["ok"] is True


async def test_termination_with_a_ground_owes_both_parties_a_notice_in_7_working_days(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    case_id = await mediation_case(apply_event, sessionmaker)
    regulator = bearer(tokens.regulator())
    bad = await client.post(f"/v1/regulator/cases/{case_id}/terminate", json={"ground": 9}, headers=regulator)
    assert bad.status_code == 422
    by_party = await client.post(f"/v1/regulator/cases/{case_id}/terminate", json={"ground": 3},
                                 headers=bearer(tokens.regulator(region="630100")))
    assert by_party.status_code == 404
    done = await client.post(f"/v1/regulator/cases/{case_id}/terminate", json={"ground": 3, "note": "无法达成一致"},
                             headers=regulator)
    assert done.status_code == 200
    notice_due = add_working_days(local_date(utcnow()), 7)
    assert done.json() == {"case_status": "terminated", "ground": 3, "notice_due": notice_due.isoformat()}
    again = await client.post(f"/v1/regulator/cases/{case_id}/terminate", json={"ground": 3}, headers=regulator)
    assert again.status_code == 409
    terminated = (await outbox_events(sessionmaker, case_id))[-1]
    assert (terminated[0], terminated[1]["ground"], terminated[1]["notice_due"]) == (
        "mediation.case.terminated.v1", 3, notice_due.isoformat())
    async with sessionmaker() as session:
        notices = (await session.execute(text(
            "SELECT party, due_date FROM party_notification WHERE case_id = :id ORDER BY party"),
            {"id": uuid.UUID(case_id)})).all()
    assert [(row.party, row.due_date) for row in notices] == [("consumer", notice_due), ("enterprise", notice_due)]


async def test_withdrawal_closes_an_open_negotiation_on_ground_1(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-wd")
    withdrawn = withdrawn_event(complaint_id=await complaint_of(sessionmaker, case_id), merchant_id=merchant_id)
    await apply_event(withdrawn)
    await apply_event(withdrawn)
    detail = (await client.get(f"/v1/consumer/cases/{case_id}", headers=bearer(tokens.consumer("consumer-wd")))).json()
    assert (detail["status"], detail["termination_ground"]) == ("terminated", 1)
    terminated = [payload for event, payload in await outbox_events(sessionmaker, case_id)
                  if event == "mediation.case.terminated.v1"]
    assert len(terminated) == 1
    assert terminated[0]["ground"] == 1


async def test_mediation_past_its_period_terminates_on_ground_5_unless_paused(
    apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession], outbox: Outbox,
    settings: MediationSettings
) -> None:
    # Accepted long ago, so only these cases are due at the instants below (the app's own sweep ran at start-up).
    accepted_at = datetime(2020, 1, 2, 2, 0, tzinfo=UTC)
    running = await mediation_case(apply_event, sessionmaker, accepted_at=accepted_at)
    paused = await mediation_case(apply_event, sessionmaker, accepted_at=accepted_at)
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE mediation_case SET paused_at = :at WHERE id = :id"),
                              {"at": accepted_at + timedelta(days=10), "id": uuid.UUID(paused)})
    due = add_calendar_days(date(2020, 1, 2), 60)
    last_day = datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    assert await regulator_service.expire_mediations(sessionmaker, outbox=outbox, cipher=CIPHER, settings=settings,
                                                     now=last_day) == 0
    day_after = last_day + timedelta(days=1)
    assert await regulator_service.expire_mediations(sessionmaker, outbox=outbox, cipher=CIPHER, settings=settings,
                                                     now=day_after) == 1
    assert await regulator_service.expire_mediations(sessionmaker, outbox=outbox, cipher=CIPHER, settings=settings,
                                                     now=day_after) == 0
    async with sessionmaker() as session:
        rows = dict((await session.execute(text(
            "SELECT id::text, status || ':' || coalesce(termination_ground::text, '-') FROM mediation_case "
            "WHERE id IN (:a, :b)"), {"a": uuid.UUID(running), "b": uuid.UUID(paused)})).all())
    assert rows == {running: "terminated:5", paused: "mediating:-"}


async def test_staff_list_a_regions_cases_and_a_mediator_lists_its_own(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    mediator = f"med-{uuid.uuid4().hex[:8]}"
    assigned = await mediation_case(apply_event, sessionmaker)
    other = await mediation_case(apply_event, sessionmaker)
    response = await assign(client, tokens, assigned, mediator_id=mediator)
    assert response.status_code == 200, response.text

    mine = await client.get("/v1/regulator/cases", params={"mine": "true"}, headers=mediator_token(tokens, mediator))
    region = await client.get("/v1/regulator/cases", params={"region": "632801", "status": "mediating",
                                                             "limit": 200}, headers=bearer(tokens.regulator()))
    elsewhere = await client.get("/v1/regulator/cases", params={"region": "630100"},
                                 headers=bearer(tokens.regulator()))

    assert mine.status_code == 200, mine.text
    [item] = mine.json()["items"]
    assert item["id"] == assigned
    assert item["mediator"] == {"kind": "regulator_staff", "id": mediator, "region_code": "632801",
                                "delegated": False}
    assert [d["kind"] for d in item["deadlines"] if d["state"] == "running"] == ["mediation"]
    assert "complainant" not in item
    listed = {entry["id"]: entry for entry in region.json()["items"]}
    assert {assigned, other} <= set(listed)
    assert listed[other]["mediator"] is None
    assert all(entry["region_code"].startswith("632801") for entry in listed.values())
    assert elsewhere.status_code == 403
