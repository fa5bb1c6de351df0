"""Nothing personal at rest in clear (issue 14, item 1): a complaint (its facts), a report, an evidence upload and a
mediation attachment with a personal-looking file name, a message in mediation, an enterprise's offer, a
consultation with its answer, a complaint the regulator refuses (its note), a summons with its attendees, findings
and undertakings and an ODR application (its contact person and licence file name) go through the gateway carrying
unique personal data and unique free text; once every event is applied, every column of every table of every
database, every process's log, every message of every topic (and dead-letter topic) and the names of the stored
files are searched for each value and its obvious encodings. Masked forms (139****5678, 王*) are intended and
allowed."""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from odr_runner.stack import APPS, SERVICES, Stack
from servicekit.calendar import local_date
from servicekit.db import utcnow
from servicekit.events.topics import all_topics

pytestmark = pytest.mark.e2e

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 64
_ID_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))


def _id_number(rng: random.Random) -> str:
    first = f"632801{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return first + "10X98765432"[sum(int(d) * w for d, w in zip(first, _ID_WEIGHTS, strict=True)) % 11]


def _uscc(rng: random.Random) -> str:
    """A well-formed code (GB 32100-2015, weights 3^i mod 31) of a company in Golmud."""
    first = "91632801" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    total = sum(USCC_ALPHABET.index(char) * pow(3, position, 31) for position, char in enumerate(first))
    return first + USCC_ALPHABET[(31 - total % 31) % 31]


def _unique_words(rng: random.Random, lead: str) -> str:
    """A phrase no other test writes: what a person typed, to be found nowhere in clear."""
    return lead + "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(8))


def _application(rng: random.Random) -> dict[str, Any]:
    """An ODR application whose contact person is another unique person."""
    return {
        "name": "格尔木盐湖特产商贸有限公司", "uscc": _uscc(rng), "region_code": "632801",
        "address": "青海省格尔木市江源南路8号", "sector": "retail",
        "online_stores": [{"platform": "taobao", "store_id": f"scan-{rng.randint(0, 10**9)}"}],
        "contact": {"name": "欧阳" + "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(2)),
                    "phone": f"13{rng.randint(3, 9)}{rng.randint(0, 99_999_999):08d}"},
        "undertaking_accepted": True,
        "business_licence": {"filename": f"营业执照{rng.randint(10**7, 10**8)}.png",
                             "content_base64": base64.b64encode(PNG).decode()},
        "criteria": {"handling_place": "江源南路8号二楼客服部", "complaint_staff_count": 2,
                     "complaint_phone": "0979-8412345", "networked_computer": True,
                     "handling_procedures": "收到投诉后二十四小时内联系消费者，七日内提出处理方案，结果登记归档。",
                     "cooperates_with_regulators": True},
    }


def _unique_person() -> dict[str, str]:
    rng = random.Random(uuid.uuid4().int)
    hanzi = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(5))
    return {
        "name": "钟" + hanzi[:3],
        "phone": f"13{rng.randint(3, 9)}{rng.randint(0, 99_999_999):08d}",
        "address": f"青海省格尔木市{hanzi[3:]}路{rng.randint(100, 999)}号",
        "id_number": _id_number(rng),
    }


def encodings(value: str) -> set[str]:
    """How a value could sit in a column cast to text, a log line or a message: as is, JSON-escaped, as the hex of
    bytea, base64; for numbers their digits with common separators too. Compared case-insensitively."""
    raw = value.encode()
    forms = {value, json.dumps(value)[1:-1], raw.hex(), base64.b64encode(raw).decode()}
    if value.isdigit() or value[:-1].isdigit():
        forms |= {value[:3] + " " + value[3:7] + " " + value[7:], value[:3] + "-" + value[3:7] + "-" + value[7:]}
    return {form.lower() for form in forms if len(form) >= 4}


def hits(text: str, needles: dict[str, set[str]]) -> list[str]:
    lowered = text.lower()
    return [field for field, forms in needles.items() if any(form in lowered for form in forms)]


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url.path}: " \
                                           f"{response.status_code} {response.text[:500]}"
    body: dict[str, Any] = response.json()
    return body


async def _scan_databases(stack: Stack, dsn: Callable[[str], str], needles: dict[str, set[str]]) -> dict[str, Any]:
    found: list[str] = []
    tables = 0
    for service in SERVICES:
        connection = await asyncpg.connect(dsn(service))
        try:
            names = [row["tablename"] for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
            for table in names:
                tables += 1
                for row in await connection.fetch(f'SELECT t::text AS row FROM "{table}" t'):
                    found += [f"{service}.{table}: {field}" for field in hits(row["row"], needles)]
        finally:
            await connection.close()
    return {"tables": tables, "found": sorted(set(found))}


async def _scan_topics(bootstrap: str, needles: dict[str, set[str]]) -> dict[str, Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[str] = []
    messages = 0
    try:
        partitions = [TopicPartition(topic, partition) for topic, count in all_topics().items()
                      for partition in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    messages += 1
                    text = b" ".join([record.key or b"", record.value or b"",
                                      *(value for _, value in record.headers)]).decode(errors="replace")
                    found += [f"{tp.topic}: {field}" for field in hits(text, needles)]
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return {"topics": len(all_topics()), "messages": messages, "found": sorted(set(found))}


async def test_no_personal_value_is_kept_in_clear_anywhere(
    e2e_stack: Stack, gateway: httpx.AsyncClient, demo: dict[str, Any], merchant_a_token: str,
    regulator_token: str, database_dsn: Callable[[str], str], eventually: Callable[..., Any],
) -> None:
    person = _unique_person()
    rng = random.Random(uuid.uuid4().int)
    typed = {"message": _unique_words(rng, "我家在"), "question": _unique_words(rng, "我叫"),
             "answer": _unique_words(rng, "已登记"), "attendee": _unique_words(rng, "上官")[:5],
             "facts": _unique_words(rng, "收到的商品"), "report_facts": _unique_words(rng, "该店销售"),
             "refusal_note": _unique_words(rng, "已由法院"), "findings": _unique_words(rng, "约谈发现"),
             "undertaking": _unique_words(rng, "承诺"), "offer_note": _unique_words(rng, "同意退款")}
    filename = f"{person['name']}身份证{person['id_number']}.png"
    # The consumer signs in with the unique phone too: sign-in must leave no trace of it either.
    otp = ok(await gateway.post("/auth/otp", json={"phone": person["phone"]}), 202)
    consumer = {"Authorization": "Bearer " + ok(await gateway.post("/auth/token", data={
        "grant_type": "otp", "phone": person["phone"], "code": otp["dev_code"]}))["access_token"]}
    enterprise = {"Authorization": f"Bearer {merchant_a_token}"}
    regulator = {"Authorization": f"Bearer {regulator_token}"}

    evidence = ok(await gateway.post("/v1/consumer/evidence", params={"filename": filename}, content=PNG,
                                     headers={**consumer, "Content-Type": "application/octet-stream"}), 201)
    assert evidence["filename"] == filename
    purchased = (local_date(utcnow()) - timedelta(days=3)).isoformat()
    body = {
        "kind": "complaint", "green_channel": True, "complainant": person,
        "respondent": {"merchant_id": demo["merchants"][0]["merchant_id"]},
        "request": {"type": "refund", "amount_fen": 19900}, "facts": typed["facts"],
        "purchase": {"date": purchased, "amount_fen": 19900}, "sector": "online_shopping", "channel": "app",
        "evidence_ids": [evidence["id"]],
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}
    filed = ok(await gateway.post("/v1/consumer/complaints", json=body, headers={**consumer, **key}), 201)
    replayed = ok(await gateway.post("/v1/consumer/complaints", json=body, headers={**consumer, **key}), 201)
    assert replayed == filed
    assert filed["complainant"]["phone"] == person["phone"]
    report = {**body, "kind": "report", "green_channel": False, "evidence_ids": [], "facts": typed["report_facts"]}
    ok(await gateway.post("/v1/consumer/complaints", json=report, headers={**consumer, "Idempotency-Key":
                                                                           str(uuid.uuid4())}), 201)

    async def case_id() -> str | None:
        detail = ok(await gateway.get(f"/v1/consumer/complaints/{filed['id']}", headers=consumer))
        return detail["mediation_case_id"]

    mediation_case = await eventually(case_id, what="the negotiation case of the complaint")
    seen = ok(await gateway.get(f"/v1/merchant/cases/{mediation_case}", headers=enterprise))
    assert seen["complainant"]["name"] == person["name"]
    assert seen["facts"] == typed["facts"]  # the respondent reads the complaint in clear
    assert person["phone"] not in json.dumps(seen, ensure_ascii=False)
    attachment = ok(await gateway.post(f"/v1/consumer/cases/{mediation_case}/attachments", headers=consumer,
                                       files={"file": (filename, PNG, "image/png")}), 201)
    assert attachment["filename"] == filename
    ok(await gateway.post(f"/v1/consumer/cases/{mediation_case}/messages", headers=consumer,
                          json={"text": typed["message"], "attachment_ids": [attachment["id"]]}), 201)
    fulfil_by = (local_date(utcnow()) + timedelta(days=7)).isoformat()
    ok(await gateway.post(f"/v1/merchant/cases/{mediation_case}/offers", headers=enterprise,
                          json={"type": "refund", "amount_fen": 19900, "fulfil_by": fulfil_by,
                                "note": typed["offer_note"]}), 201)
    masked = ok(await gateway.get(f"/v1/regulator/complaints/{filed['id']}", headers=regulator))
    assert person["phone"] not in json.dumps(masked, ensure_ascii=False)
    full = ok(await gateway.post(f"/v1/regulator/complaints/{filed['id']}/reveal", headers=regulator,
                                 json={"purpose": "contact_party", "note": f"联系{person['name']}核实"}))
    assert full["complainant"]["id_number"] == person["id_number"]
    detail = ok(await gateway.get(f"/v1/consumer/cases/{mediation_case}", headers=consumer))
    assert [message["text"] for message in detail["messages"]] == [typed["message"]]
    assert [offer["note"] for offer in detail["offers"]] == [typed["offer_note"]]

    # A second complaint waits for the regulator, who refuses it with a note of its own.
    to_regulator = {**body, "green_channel": False, "evidence_ids": []}
    refused = ok(await gateway.post("/v1/consumer/complaints", json=to_regulator,
                                    headers={**consumer, "Idempotency-Key": str(uuid.uuid4())}), 201)
    decided = ok(await gateway.post(f"/v1/regulator/complaints/{refused['id']}/refuse", headers=regulator,
                                    json={"ground": 2, "note": typed["refusal_note"]}))
    assert decided["refusal"]["note"] == typed["refusal_note"]
    assert any(entry["params"].get("text") == typed["refusal_note"] for entry in decided["timeline"])

    consultation = ok(await gateway.post("/v1/consumer/consultations", headers=consumer, json={
        "question": typed["question"], "sector": "online_shopping", "region_code": "632801"}), 201)
    ok(await gateway.post(f"/v1/regulator/consultations/{consultation['id']}/answer", headers=regulator,
                          json={"answer": typed["answer"]}))
    asked = ok(await gateway.get(f"/v1/consumer/consultations/{consultation['id']}", headers=consumer))
    assert (asked["question"], asked["answer"]) == (typed["question"], typed["answer"])

    application = _application(rng)
    applied = ok(await gateway.post("/v1/public/odr-applications", json=application), 201)
    dossier = ok(await gateway.get(f"/v1/regulator/odr-applications/{applied['id']}", headers=regulator))
    assert dossier["contact"] == application["contact"]
    assert dossier["licence"]["filename"] == application["business_licence"]["filename"]
    summons = ok(await gateway.post(
        f"/v1/regulator/merchants/{demo['merchants'][0]['merchant_id']}/summons", headers=regulator, json={
            "held_on": local_date(utcnow()).isoformat(), "findings": typed["findings"],
            "attendees": [{"name": typed["attendee"], "organisation": demo["merchants"][0]["name"]}],
            "undertakings": [typed["undertaking"]]}), 201)
    assert summons["attendees"][0]["name"] == typed["attendee"]
    assert (summons["findings"], summons["undertakings"]) == (typed["findings"], [typed["undertaking"]])
    applicant = {"contact_name": application["contact"]["name"], "contact_phone": application["contact"]["phone"],
                 "licence_filename": application["business_licence"]["filename"]}
    pending = await e2e_stack.wait_settled()
    assert not pending, f"events still in flight: {pending}"

    needles = {field: encodings(value) for field, value in
               {**person, "filename": filename, **typed, **applicant}.items()}
    databases = await _scan_databases(e2e_stack, database_dsn, needles)
    topics = await _scan_topics(e2e_stack.kafka_bootstrap, needles)
    # Each hit with its line, so a failure shows where the value leaked.
    logs = {name: [f"{field}: {line[:400]}"
                   for line in e2e_stack.log_path(name).read_text(errors="replace").splitlines()
                   for field in hits(line, needles)]
            for name in APPS}
    stored = [str(path.relative_to(e2e_stack.config.work_dir)) for path in e2e_stack.config.work_dir.rglob("*")
              if path.is_relative_to(e2e_stack.config.work_dir / "logs") is False and hits(path.name, needles)]

    # The same scan finds what is meant to be kept in clear (the case number), so a miss above is not a blind scan.
    control = {"case_no": encodings(filed["case_no"])}
    assert "complaints.complaint: case_no" in (await _scan_databases(e2e_stack, database_dsn, control))["found"]
    assert "complaints.complaint: case_no" in (await _scan_topics(e2e_stack.kafka_bootstrap, control))["found"]
    assert databases["tables"] > 30
    assert topics["messages"] > 5
    assert databases["found"] == [], databases["found"]
    assert topics["found"] == [], topics["found"]
    assert {name: found for name, found in logs.items() if found} == {}
    assert stored == []
