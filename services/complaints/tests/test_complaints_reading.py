"""Reading complaints: owners only, ETag and 304, newest-first cursor pages, regulators by region."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from complaints_support import Area, Consumer, complaint_body, unregistered

from servicekit.calendar import local_date, working_days_after
from servicekit.db import utcnow
from servicekit.testing.plugin import Tokens

PATH = "/v1/consumer/complaints"
REGULATOR_PATH = "/v1/regulator/complaints"


async def file(client: httpx.AsyncClient, auth: dict[str, str], region: str, **changes: object) -> dict[str, object]:
    response = await client.post(PATH, json=complaint_body(respondent=unregistered(region), **changes), headers=auth)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_owner_reads_the_complaint_with_timeline_and_deadlines(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    filed = await file(client, auth, area.first)

    response = await client.get(f"{PATH}/{filed['id']}", headers=auth)

    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    body = response.json()
    assert body == filed
    assert body["complainant"] == {"name": "王芳", "phone": "13800138000", "address": "青海省格尔木市昆仑中路12号",
                                   "id_number": None}
    assert [entry["status"] for entry in body["timeline"]] == ["submitted", "pending_acceptance"]
    assert set(body["timeline"][0]) == {"at", "status", "actor_role", "note", "code", "params"}
    assert [entry["code"] for entry in body["timeline"]] == ["filed", "sent_to_regulator"]
    review = body["deadlines"][0]
    assert review["working_days_left"] == working_days_after(local_date(utcnow()), date.fromisoformat(
        review["due_date"])) > 0


async def test_if_none_match_with_the_current_etag_gives_304(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    filed = await file(client, auth, area.first)

    not_modified = await client.get(f"{PATH}/{filed['id']}", headers={**auth, "If-None-Match": 'W/"1"'})
    stale = await client.get(f"{PATH}/{filed['id']}", headers={**auth, "If-None-Match": 'W/"0"'})
    strong = await client.get(f"{PATH}/{filed['id']}", headers={**auth, "If-None-Match": '"0", "1"'})
    any_version = await client.get(f"{PATH}/{filed['id']}", headers={**auth, "If-None-Match": "*"})

    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == 'W/"1"'
    assert strong.status_code == any_version.status_code == 304
    assert stale.status_code == 200
    assert stale.json()["id"] == filed["id"]


async def test_another_consumer_gets_404(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, owner = consumer()
    _, stranger = consumer()
    filed = await file(client, owner, area.first)

    response = await client.get(f"{PATH}/{filed['id']}", headers=stranger)
    conditional = await client.get(f"{PATH}/{filed['id']}", headers={**stranger, "If-None-Match": 'W/"1"'})
    unknown = await client.get(f"{PATH}/{uuid.uuid4()}", headers=owner)

    assert response.status_code == conditional.status_code == unknown.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    listed = await client.get(PATH, headers=stranger)
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_the_consumer_lists_their_own_newest_first_in_pages(
    client: httpx.AsyncClient, consumer: Consumer, area: Area,
) -> None:
    _, auth = consumer()
    _, other = consumer()
    ids = [(await file(client, auth, area.first))["id"] for _ in range(3)]
    await file(client, other, area.first)

    first = await client.get(PATH, params={"limit": 2}, headers=auth)
    assert first.status_code == 200
    assert [item["id"] for item in first.json()["items"]] == [ids[2], ids[1]]
    cursor = first.json()["next_cursor"]
    assert cursor
    second = await client.get(PATH, params={"limit": 2, "cursor": cursor}, headers=auth)

    assert [item["id"] for item in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    assert "complainant" not in second.json()["items"][0]


async def test_a_cursor_not_given_out_is_refused(client: httpx.AsyncClient, consumer: Consumer) -> None:
    _, auth = consumer()

    response = await client.get(PATH, params={"cursor": "not a cursor!"}, headers=auth)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_regulators_list_only_regions_they_govern(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, own_area: Area,
) -> None:
    _, auth = consumer()
    in_01 = await file(client, auth, own_area.first)
    in_02 = await file(client, auth, own_area.second)
    city = {"Authorization": f"Bearer {tokens.regulator(region=own_area.prefecture)}"}
    county = {"Authorization": f"Bearer {tokens.regulator(region=own_area.first)}"}

    everything = await client.get(REGULATOR_PATH, headers=city)
    own_county = await client.get(REGULATOR_PATH, headers=county)
    chosen = await client.get(REGULATOR_PATH, params={"region": own_area.second}, headers=city)
    filtered = await client.get(REGULATOR_PATH, params={"status": "with_merchant"}, headers=city)
    elsewhere = await client.get(REGULATOR_PATH, params={"region": own_area.second}, headers=county)

    # The queue: both wait for acceptance with the same due date, so filing order decides.
    assert [item["id"] for item in everything.json()["items"]] == [in_01["id"], in_02["id"]]
    assert [item["id"] for item in own_county.json()["items"]] == [in_01["id"]]
    assert [item["id"] for item in chosen.json()["items"]] == [in_02["id"]]
    assert filtered.json()["items"] == []
    assert elsewhere.status_code == 403
    assert "complainant" not in everything.json()["items"][0]
