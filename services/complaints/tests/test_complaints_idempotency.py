"""Idempotency-Key: a retry returns the first response; a reused key with another body changes nothing."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from complaints_support import Area, Consumer, Count, complaint_body, unregistered

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
