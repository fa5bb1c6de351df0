"""Idempotency-Key: a retry returns the first response; a reused key with another body changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from complaints_support import Area, Consumer, Count, complaint_body, unregistered
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from complaints import idempotency

PATH = "/v1/consumer/complaints"


async def test_the_same_key_and_body_returns_the_first_response_and_files_once(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, area: Area,
) -> None:
    sub, auth = consumer()
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = complaint_body(respondent=unregistered(area.first))

    first = await client.post(PATH, json=body, headers=headers)
    # Key order is not part of the body's identity.
    second = await client.post(PATH, json=dict(reversed(body.items())), headers=headers)

    assert first.status_code == second.status_code == 201, first.text
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert await count("complaint", "consumer_id = :sub", sub=sub) == 1
    assert await count("outbox", "aggregate_id = :id", id=first.json()["id"]) == 2
    assert await count("idempotency_key", "principal_sub = :sub", sub=sub) == 1


async def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, area: Area,
) -> None:
    sub, auth = consumer()
    headers = {**auth, "Idempotency-Key": "retry-me-1"}
    first = await client.post(PATH, json=complaint_body(respondent=unregistered(area.first)),
                              headers=headers)
    assert first.status_code == 201, first.text
    before = (await count("complaint"), await count("outbox"), await count("complaint_event"),
              await count("deadline"), await count("idempotency_key"))

    changed = complaint_body(respondent=unregistered(area.first), facts="另一件事")
    second = await client.post(PATH, json=changed, headers=headers)

    assert second.status_code == 422
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"] == "/problems/idempotency-key-reused"
    assert (await count("complaint"), await count("outbox"), await count("complaint_event"),
            await count("deadline"), await count("idempotency_key")) == before
    assert await count("complaint", "consumer_id = :sub", sub=sub) == 1


async def test_concurrent_twins_file_once_and_answer_alike(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, area: Area,
) -> None:
    sub, auth = consumer()
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = complaint_body(respondent=unregistered(area.first))

    responses = await asyncio.gather(*(client.post(PATH, json=body, headers=headers) for _ in range(4)))

    assert [response.status_code for response in responses] == [201] * 4
    assert len({response.text for response in responses}) == 1
    assert await count("complaint", "consumer_id = :sub", sub=sub) == 1
    # The twins that lost rolled back their case-number increment with everything else: no number was burned.
    following = await client.post(PATH, json=body, headers=auth)
    sequence = int(responses[0].json()["case_no"].rsplit("-", 1)[1])
    assert following.json()["case_no"].endswith(f"-{sequence + 1:06d}")


async def test_keys_belong_to_one_consumer(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    body = complaint_body(respondent=unregistered(area.first))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    _, first_auth = consumer()
    _, second_auth = consumer()

    first = await client.post(PATH, json=body, headers={**first_auth, **key})
    second = await client.post(PATH, json=body, headers={**second_auth, **key})

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]


async def test_an_unusable_key_is_refused(client: httpx.AsyncClient, consumer: Consumer, count: Count) -> None:
    _, auth = consumer()
    before = await count("complaint")

    response = await client.post(PATH, json=complaint_body(), headers={**auth, "Idempotency-Key": "k" * 201})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert await count("complaint") == before


async def test_the_stored_response_keeps_no_personal_data_in_clear_and_replays_the_case_number(
    client: httpx.AsyncClient, consumer: Consumer, engine: AsyncEngine, area: Area,
) -> None:
    sub, auth = consumer()
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    phone, id_number = "13912345678", "632801199001011239"
    body = complaint_body(respondent=unregistered(area.first),
                          complainant={"name": "索南措毛", "phone": phone, "address": "格尔木市河西街道77号",
                                       "id_number": id_number})

    first = await client.post(PATH, json=body, headers=headers)
    assert first.status_code == 201, first.text
    async with engine.connect() as connection:
        stored = (await connection.execute(
            text("SELECT t::text AS row, case_no FROM idempotency_key t WHERE principal_sub = :sub"), {"sub": sub},
        )).one()
    for value in ("索南措毛", phone, id_number, "格尔木市河西街道77号", "\\u7d22"):
        assert value not in stored.row
    assert stored.case_no == first.json()["case_no"]

    again = await client.post(PATH, json=body, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content


async def test_a_key_expires_after_a_day_then_files_anew_and_the_pruner_deletes_expired_records(
    client: httpx.AsyncClient, consumer: Consumer, engine: AsyncEngine, count: Count, area: Area,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sub, auth = consumer()
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = complaint_body(respondent=unregistered(area.first))
    first = await client.post(PATH, json=body, headers=headers)
    assert first.status_code == 201, first.text

    async def age(sub: str, by: timedelta) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE idempotency_key SET created_at = created_at"
                                          " - make_interval(secs => :by) WHERE principal_sub = :sub"),
                                     {"by": by.total_seconds(), "sub": sub})

    await age(sub, idempotency.TTL - timedelta(minutes=1))
    assert (await client.post(PATH, json=body, headers=headers)).json()["id"] == first.json()["id"]

    await age(sub, timedelta(minutes=2))
    anew = await client.post(PATH, json=body, headers=headers)
    assert anew.status_code == 201, anew.text
    assert anew.json()["id"] != first.json()["id"]
    assert await count("complaint", "consumer_id = :sub", sub=sub) == 2

    other, other_auth = consumer()
    fresh = await client.post(PATH, json=body, headers={**other_auth, "Idempotency-Key": "kept"})
    assert fresh.status_code == 201
    await age(sub, idempotency.TTL + timedelta(minutes=1))
    async with sessionmaker() as session, session.begin():
        assert await idempotency.prune(session) >= 1
    assert await count("idempotency_key", "principal_sub = :sub", sub=sub) == 0
    assert await count("idempotency_key", "principal_sub = :sub", sub=other) == 1
