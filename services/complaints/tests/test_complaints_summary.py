"""The period report: every figure checked against the count recomputed from the case rows with plain SQL, and its
complaints and money equal to GET /v1/regulator/stats for the same region and period."""

from __future__ import annotations

import csv
import io
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from complaints_support import (
    PII_KEY,
    Area,
    Consumer,
    Seed,
    bearer,
    checked_identity,
    complaint_body,
    file_case,
    unregistered,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints.consumers.mediation import mediation_handlers
from complaints.database import outbox
from complaints.publisher import Publisher
from complaints.settings import ComplaintsSettings
from servicekit.auth import Audience, Role
from servicekit.calendar import end_of_day, local_date
from servicekit.contracts.mediation_v1 import CaseReviewed
from servicekit.db import utcnow
from servicekit.events.outbox import Outbox
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

SUMMARY = "/v1/regulator/reports/summary"


async def recount(engine: AsyncEngine, prefix: str, day: Any) -> dict[str, Any]:
    """The figures straight from the rows: nothing of the statistics service is used."""
    window = {"prefix": prefix + "%", "start": end_of_day(day.fromordinal(day.toordinal() - 1)),
              "end": end_of_day(day)}
    cases = "FROM complaint WHERE region_code LIKE :prefix AND filed_at >= :start AND filed_at < :end"
    asked = "FROM consultation WHERE region_code LIKE :prefix AND filed_at >= :start AND filed_at < :end"
    queries = {
        "complaints.received": f"SELECT count(*) {cases} AND kind = 'complaint'",
        "complaints.accepted": f"SELECT count(*) {cases} AND kind = 'complaint' AND accepted_at IS NOT NULL",
        "complaints.refused": f"SELECT count(*) {cases} AND kind = 'complaint' AND refusal_ground IS NOT NULL",
        "complaints.closed": f"SELECT count(*) {cases} AND kind = 'complaint' AND closed_at IS NOT NULL",
        "complaints.settled": f"SELECT count(*) {cases} AND kind = 'complaint' AND status = 'closed_settled'",
        "complaints.recovered_fen": f"SELECT coalesce(sum(recovered_fen), 0) {cases}",
        "complaints.initial_reviews_due": "SELECT count(*) FROM deadline d JOIN complaint c ON c.id = d.complaint_id "
                                          "WHERE c.region_code LIKE :prefix AND c.filed_at >= :start AND "
                                          "c.filed_at < :end AND c.kind = 'complaint' AND d.kind = 'initial_review' "
                                          "AND d.state IN ('met', 'breached')",
        "complaints.initial_reviews_on_time": "SELECT count(*) FROM deadline d JOIN complaint c ON "
                                              "c.id = d.complaint_id WHERE c.region_code LIKE :prefix AND "
                                              "c.filed_at >= :start AND c.filed_at < :end AND c.kind = 'complaint' "
                                              "AND d.kind = 'initial_review' AND d.state = 'met' "
                                              "AND d.met_at <= d.due_at",
        "reports.received": f"SELECT count(*) {cases} AND kind = 'report'",
        "reports.closed": f"SELECT count(*) {cases} AND kind = 'report' AND closed_at IS NOT NULL",
        "consultations.received": f"SELECT count(*) {asked}",
        "consultations.answered": f"SELECT count(*) {asked} AND answered_at IS NOT NULL",
        "odr_enterprises.enrolled": "SELECT count(*) FROM enrolled_merchant WHERE region_code LIKE :prefix "
                                    "AND status = 'active'",
        "odr_enterprises.complaints": f"SELECT count(*) {cases} AND kind = 'complaint' AND merchant_id IS NOT NULL",
        "odr_enterprises.settled": f"SELECT count(*) {cases} AND kind = 'complaint' AND merchant_id IS NOT NULL "
                                   "AND status = 'closed_settled'",
        "stations.with_cases": f"SELECT count(DISTINCT station_id) {cases}",
        "stations.cases": f"SELECT count(*) {cases} AND channel = 'station'",
        "stations.settled": f"SELECT count(*) {cases} AND channel = 'station' AND status = 'closed_settled'",
    }
    async with engine.connect() as connection:
        counted = {name: int((await connection.execute(text(sql), window)).scalar_one())
                   for name, sql in queries.items()}
        sectors = await connection.execute(text(
            f"SELECT sector, count(*) FILTER (WHERE kind = 'complaint') AS complaints, "
            f"count(*) FILTER (WHERE kind = 'report') AS reports {cases} GROUP BY sector"), window)
        by_sector = {row.sector: (row.complaints, row.reports, 0) for row in sectors}
        for row in await connection.execute(text(f"SELECT sector, count(*) AS n {asked} GROUP BY sector"), window):
            complaints, reports, _ = by_sector.get(row.sector, (0, 0, 0))
            by_sector[row.sector] = (complaints, reports, row.n)
    return {"figures": counted, "by_sector": by_sector}


async def test_the_period_report_recounts_from_the_rows_figure_by_figure(
    client: httpx.AsyncClient, tokens: Tokens, consumer: Consumer, area: Area, enrolled_merchant: Seed,
    engine: AsyncEngine,
) -> None:
    regulator = bearer(tokens.regulator(region=area.prefecture))
    _, auth = consumer()
    merchant_id = await enrolled_merchant(area.first)
    # A varied day: complaints accepted and refused, one with an ODR enterprise, a report, a station case settled on
    # the spot, consultations answered and not.
    accepted = await file_case(client, auth, area.first, sector="food")
    refused = await file_case(client, auth, area.second)
    await file_case(client, auth, area.third, kind="report", complainant=None)
    odr = await client.post("/v1/consumer/complaints", headers=auth,
                            json=complaint_body(respondent={"merchant_id": str(merchant_id)}, green_channel=True))
    assert odr.status_code == 201, odr.text
    station = bearer(tokens.issuer.issue(sub="station-summary", aud=Audience.REGULATOR, roles=[Role.STATION_STAFF],
                                         region=area.prefecture, station_id=uuid.uuid4()))
    walk_in = complaint_body(complainant={"name": "李强", "phone": f"139{random.randrange(10**8):08d}"},
                             respondent=unregistered(area.first), green_channel=False,
                             settled_on_spot={"amount_fen": 5000, "note": "当场退款"}, identity=checked_identity())
    assert (await client.post("/v1/regulator/station-complaints", json=walk_in, headers=station)).status_code == 201
    assert (await client.post(f"/v1/regulator/complaints/{accepted['id']}/accept", headers=regulator)).status_code \
        == 200
    assert (await client.post(f"/v1/regulator/complaints/{refused['id']}/refuse", headers=regulator,
                              json={"ground": 3, "note": "非消费纠纷"})).status_code == 200
    for index in range(3):
        asked = await client.post("/v1/consumer/consultations", headers=auth, json={
            "question": f"问题{index}", "sector": "tourism", "region_code": area.second})
        if index:
            await client.post(f"/v1/regulator/consultations/{asked.json()['id']}/answer", json={"answer": "答"},
                              headers=regulator)
    today = local_date(utcnow())
    period = {"region": area.prefecture, "from": today.isoformat(), "to": today.isoformat()}

    response = await client.get(SUMMARY, params=period, headers=regulator)
    stats = (await client.get("/v1/regulator/stats", params=period, headers=regulator)).json()
    rows = await recount(engine, area.prefecture[:4], today)

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["region"], report["from"], report["to"]) == (area.prefecture, period["from"], period["to"])
    for name, expected in rows["figures"].items():
        section, figure = name.split(".")
        assert report[section][figure] == expected, name
    assert report["complaints"]["received"] == stats["complaints"]
    assert report["complaints"]["recovered_fen"] == stats["recovered_fen"]
    assert report["consultations"]["received"] == stats["consultations"]
    due = rows["figures"]["complaints.initial_reviews_due"]
    assert report["complaints"]["on_time_initial_review_rate"] == (
        rows["figures"]["complaints.initial_reviews_on_time"] / due if due else 0.0)
    closure = report["complaints"]["closed"] / report["complaints"]["received"]
    assert report["complaints"]["closure_rate"] == closure
    assert {group["sector"]: (group["complaints"], group["reports"], group["consultations"])
            for group in report["by_sector"]} == rows["by_sector"]
    by_issue_type = (await client.get("/v1/regulator/stats", params={**period, "group_by": "issue_type"},
                                      headers=regulator)).json()
    assert {group["issue_type"]: (group["complaints"], group["reports"], group["consultations"])
            for group in report["by_issue_type"]} == {
        group["key"]: (group["complaints"], group["reports"], group["consultations"])
        for group in by_issue_type["groups"]}
    assert any(group["issue_type"] == "other" and group["consultations"] >= 3 for group in report["by_issue_type"])
    # The day's activity shows in every section.
    assert min(report["complaints"]["accepted"], report["complaints"]["refused"], report["reports"]["received"],
               report["consultations"]["answered"], report["odr_enterprises"]["complaints"],
               report["stations"]["settled"]) >= 1


async def test_the_period_report_as_csv_and_as_a_printable_page(
    client: httpx.AsyncClient, tokens: Tokens, area: Area,
) -> None:
    regulator = bearer(tokens.regulator(region=area.prefecture))
    params = {"region": area.prefecture}

    as_json = (await client.get(SUMMARY, params=params, headers=regulator)).json()
    by_accept = await client.get(SUMMARY, params=params, headers={**regulator, "Accept": "text/csv"})
    by_query = await client.get(SUMMARY, params={**params, "format": "csv"}, headers=regulator)
    page = await client.get(SUMMARY, params={**params, "format": "html"}, headers=regulator)
    elsewhere = await client.get(SUMMARY, params={"region": "110000"}, headers=regulator)

    assert by_accept.status_code == by_query.status_code == page.status_code == 200
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert by_accept.content == by_query.content
    assert by_accept.content.startswith("\ufeff".encode())
    lines = {(row["section"], row["figure"]): row["value"]
             for row in csv.DictReader(io.StringIO(by_accept.text.removeprefix("\ufeff")))}
    assert lines[("complaints", "received")] == str(as_json["complaints"]["received"])
    assert lines[("consultations", "received")] == str(as_json["consultations"]["received"])
    assert lines[("complaints", "recovered_fen")] == str(as_json["complaints"]["recovered_fen"])
    assert page.headers["content-type"].startswith("text/html")
    assert "按时初查率" in page.text
    assert "format=csv" in page.text
    assert elsewhere.status_code == 403


async def test_the_period_reports_audit_figures_are_the_reviews_mediation_published_counted_once(
    client: httpx.AsyncClient, tokens: Tokens, area: Area, engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession], settings: ComplaintsSettings,
) -> None:
    handlers = mediation_handlers(publisher=Publisher(outbox=Outbox(outbox, "complaints"), source="complaints",
                                                      cipher=PiiCipher(PII_KEY)),
                                  cipher=PiiCipher(settings.pii_key.get_secret_value()))

    async def deliver(reviewed: CaseReviewed, *, event_id: uuid.UUID | None = None) -> None:
        """As the inbox consumer applies it: the group's handler in one transaction."""
        envelope = reviewed.envelope(source="mediation")
        if event_id is not None:
            envelope = envelope.model_copy(update={"id": event_id})
        async with sessionmaker() as session, session.begin():
            await handlers[CaseReviewed.event_type](session, envelope)

    now = utcnow()
    merchant_id = uuid.uuid4()

    def review(case_id: uuid.UUID, outcome: str, region: str, at: datetime = now) -> CaseReviewed:
        return CaseReviewed(case_id=case_id, complaint_id=uuid.uuid4(), merchant_id=merchant_id, region_code=region,
                            at=at, review_id=uuid.uuid4(), outcome=outcome, finding=outcome != "confirmed",
                            signals=["low_settlement"], sampled=False)

    reviewed_twice = uuid.uuid4()
    referred = review(reviewed_twice, "referred_for_enforcement", area.first)
    for event in (review(uuid.uuid4(), "confirmed", area.first), referred,
                  review(reviewed_twice, "consumer_called_back", area.first),
                  review(uuid.uuid4(), "confirmed", area.second)):
        await deliver(event)
    # The same review again, as a redelivery under another event id too: the review id keeps it once.
    await deliver(referred)
    await deliver(referred, event_id=uuid.uuid4())
    # Outside the period (yesterday) and outside the region.
    await deliver(review(uuid.uuid4(), "confirmed", area.first, at=now - timedelta(days=1)))
    await deliver(review(uuid.uuid4(), "referred_for_enforcement", "110101"))

    today = local_date(now)
    regulator = bearer(tokens.regulator(region=area.prefecture))
    report = (await client.get(SUMMARY, headers=regulator, params={
        "region": area.prefecture, "from": today.isoformat(), "to": today.isoformat()})).json()
    async with engine.connect() as connection:
        recounted = (await connection.execute(text(
            "SELECT count(DISTINCT case_id) AS cases, count(*) AS reviews, "
            "count(*) FILTER (WHERE outcome <> 'confirmed') AS findings, "
            "count(*) FILTER (WHERE outcome = 'confirmed') AS confirmed, "
            "count(*) FILTER (WHERE outcome = 'consumer_called_back') AS called_back, "
            "count(*) FILTER (WHERE outcome = 'referred_for_enforcement') AS referred, "
            "count(*) FILTER (WHERE outcome = 'agreement_reopened_with_consent') AS reopened "
            "FROM audit_review_fact WHERE region_code LIKE :prefix AND reviewed_on = :day"),
            {"prefix": area.prefecture[:4] + "%", "day": today})).one()
    audit = report["audit"]
    assert (audit["cases_reviewed"], audit["reviews"], audit["findings"], audit["confirmed"],
            audit["consumer_called_back"], audit["referred_for_enforcement"],
            audit["agreement_reopened_with_consent"]) == tuple(recounted) == (3, 4, 2, 2, 1, 1, 0)
    csv_lines = {(row["section"], row["figure"]): row["value"] for row in csv.DictReader(io.StringIO(
        (await client.get(SUMMARY, headers={**regulator, "Accept": "text/csv"}, params={
            "region": area.prefecture, "from": today.isoformat(), "to": today.isoformat()})).text.removeprefix(
            "\ufeff")))}
    assert (csv_lines[("audit", "cases_reviewed")], csv_lines[("audit", "findings")]) == ("3", "2")
    yesterday = (await client.get(SUMMARY, headers=regulator, params={
        "region": area.first, "from": (today - timedelta(days=1)).isoformat(),
        "to": (today - timedelta(days=1)).isoformat()})).json()
    assert (yesterday["audit"]["cases_reviewed"], yesterday["audit"]["findings"]) == (1, 0)
