"""ODR applications over HTTP: submission with its licence, duplicates, bad input, regional review, approval."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from merchants_testkit import JPEG, PNG, VERIFY, application_body, internal_headers, random_address, random_uscc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from merchants.applications.models import sealed_context
from merchants.settings import MerchantsSettings
from servicekit.auth import Audience, Role
from servicekit.pii import PiiCipher
from servicekit.testing.plugin import Tokens

APPLY = "/v1/public/odr-applications"
REVIEW = "/v1/regulator/odr-applications"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def apply(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post(APPLY, json=body, headers={"X-Forwarded-For": random_address()})


def files_in(directory: Path) -> set[Path]:
    return set(directory.iterdir())


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


async def test_application_is_filed_with_its_licence_on_disk(client: httpx.AsyncClient, tokens: Tokens,
                                                             settings: MerchantsSettings) -> None:
    body = application_body(licence=PNG)
    response = await apply(client, body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "pending"
    assert created["licence"] == {"filename": "licence.pdf", "media_type": "image/png", "size": len(PNG),
                                  "sha256": hashlib.sha256(PNG).hexdigest()}
    stored = Path(settings.licence_dir) / f"{created['id']}.png"
    assert stored.read_bytes() == PNG

    detail = await client.get(f"{REVIEW}/{created['id']}", headers=bearer(tokens.regulator("632801")))
    assert detail.status_code == 200, detail.text
    read = detail.json()
    assert (read["uscc"], read["status"], read["merchant_id"]) == (body["uscc"], "pending", created["merchant_id"])
    assert read["criteria"] == body["criteria"]
    assert read["online_stores"] == body["online_stores"]
    assert read["operating_address"] == body["operating_address"]
    licence = await client.get(f"{REVIEW}/{created['id']}/licence", headers=bearer(tokens.regulator("632801")))
    assert licence.content == PNG
    assert licence.headers["content-type"] == "image/png"


async def read_status(client: httpx.AsyncClient, created: dict[str, Any]) -> httpx.Response:
    """The applicant's status, read with the token it received on applying."""
    return await client.get(f"{APPLY}/{created['id']}/status", headers={"X-Application-Token": created["status_token"]})


async def retrieve(client: httpx.AsyncClient, created: dict[str, Any]) -> tuple[dict[str, Any], httpx.Response]:
    """The applicant's status, and the answer of its one-time link (as the applicant, with its status token)."""
    status = await client.get(f"{APPLY}/{created['id']}/status",
                              headers={"X-Application-Token": created["status_token"]})
    assert status.status_code == 200, status.text
    link = status.json()["credentials"]
    return status.json(), await client.post(link["url"], json={"retrieval_token": link["retrieval_token"]})


async def test_approval_announces_the_enterprise_and_the_applicant_fetches_its_credentials_once(
    client: httpx.AsyncClient, tokens: Tokens, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = (await apply(client, application_body())).json()
    pending = await read_status(client, created)
    assert pending.status_code == 200, pending.text
    assert (pending.json()["status"], pending.json()["credentials"]) == ("pending", None)

    regulator = bearer(tokens.regulator("632800", sub="reg-haixi"))  # the prefecture governs its counties
    approved = await client.post(f"{REVIEW}/{created['id']}/approve", json={"reason": "四有一健全"}, headers=regulator)
    assert approved.status_code == 200, approved.text
    decided = approved.json()
    assert (decided["status"], decided["merchant_id"]) == ("approved", created["merchant_id"])
    assert "client_secret" not in decided, "the regulator never holds the secret"
    assert "client_id" not in decided
    assert decided["credentials_expire_at"] is not None
    assert decided["credentials_retrieved_at"] is None

    status, retrieved = await retrieve(client, created)
    assert status["credentials"]["state"] == "ready"
    assert retrieved.status_code == 200, retrieved.text
    assert retrieved.headers["cache-control"] == "no-store"
    issued = retrieved.json()
    assert set(issued) == {"merchant_id", "client_id", "client_secret", "portal_admin"}
    assert issued["merchant_id"] == created["merchant_id"]
    grant = {"grant_type": "client_credentials", "client_id": issued["client_id"],
             "client_secret": issued["client_secret"]}
    verified = await client.post(VERIFY, json=grant, headers=internal_headers())
    assert verified.status_code == 200
    assert verified.json()["merchant_id"] == created["merchant_id"]

    link = status["credentials"]
    assert_problem(await client.post(link["url"], json={"retrieval_token": link["retrieval_token"]}), 409, "conflict")
    after = await read_status(client, created)
    assert after.json()["credentials"]["state"] == "retrieved"
    assert after.json()["credentials"]["retrieval_token"] is None
    regulator_view = await client.get(f"{REVIEW}/{created['id']}", headers=regulator)
    assert issued["client_secret"] not in regulator_view.text
    assert created["status_token"] not in regulator_view.text
    assert link["retrieval_token"] not in regulator_view.text
    assert regulator_view.json()["credentials_retrieved_at"] is not None

    again = await client.post(f"{REVIEW}/{created['id']}/approve", headers=regulator)
    assert_problem(again, 409, "conflict")
    async with sessionmaker() as session:
        row = (await session.execute(text(
            "SELECT status, decided_by, status_token_hash, retrieval_token_hash FROM odr_application WHERE id = :id"),
            {"id": created["id"]})).one()
        events = (await session.scalars(text("SELECT event_type FROM outbox WHERE aggregate_id = :id"),
                                        {"id": created["merchant_id"]})).all()
        audit = (await session.scalars(text(
            "SELECT e.actor_role FROM enrollment_event e JOIN enrollment n ON n.id = e.enrollment_id "
            "WHERE n.merchant_id = :id ORDER BY e.at"), {"id": created["merchant_id"]})).all()
    assert (row.status, row.decided_by) == ("approved", "reg-haixi")
    assert row.status_token_hash == hashlib.sha256(created["status_token"].encode()).hexdigest(), "kept hashed"
    assert row.retrieval_token_hash == hashlib.sha256(link["retrieval_token"].encode()).hexdigest(), "kept hashed"
    assert events == ["merchants.enrollment.approved.v1"]
    assert audit == ["applicant", "regulator", "applicant"], "applied, approved, credentials handed over"


async def test_the_status_needs_the_applicants_token(client: httpx.AsyncClient, tokens: Tokens) -> None:
    created = (await apply(client, application_body())).json()
    path = f"{APPLY}/{created['id']}/status"
    assert_problem(await client.get(path), 422, "validation-error")
    assert_problem(await client.get(path, headers={"X-Application-Token": "not-the-token"}), 404, "not-found")
    other = (await apply(client, application_body())).json()
    assert_problem(await client.get(path, headers={"X-Application-Token": other["status_token"]}), 404, "not-found")
    assert_problem(await client.get(f"{APPLY}/{uuid.uuid4()}/status",
                                    headers={"X-Application-Token": created["status_token"]}), 404, "not-found")
    assert_problem(await client.get(f"{APPLY}/not-a-uuid/status",
                                    headers={"X-Application-Token": created["status_token"]}), 422, "validation-error")

    rejected = await client.post(f"{REVIEW}/{created['id']}/reject", json={"reason": "无固定投诉处理场所"},
                                 headers=bearer(tokens.regulator()))
    assert rejected.status_code == 200, rejected.text
    status = await client.get(path, headers={"X-Application-Token": created["status_token"]})
    assert (status.json()["status"], status.json()["decision_reason"], status.json()["credentials"]) == (
        "rejected", "无固定投诉处理场所", None)


async def test_the_credentials_link_refuses_wrong_tokens_and_expires(
    client: httpx.AsyncClient, tokens: Tokens, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = (await apply(client, application_body())).json()
    credentials = f"{APPLY}/{created['id']}/credentials"
    assert_problem(await client.post(credentials, json={"retrieval_token": "guess"}), 404, "not-found")
    approved = await client.post(f"{REVIEW}/{created['id']}/approve", headers=bearer(tokens.regulator()))
    assert approved.status_code == 200, approved.text
    assert_problem(await client.post(credentials, json={"retrieval_token": created["status_token"]}), 404,
                   "not-found")
    assert_problem(await client.post(credentials, json={}), 422, "validation-error")
    assert_problem(await client.post(credentials, json={"retrieval_token": "x", "extra": 1}), 422, "validation-error")

    ready = await read_status(client, created)
    token = ready.json()["credentials"]["retrieval_token"]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE odr_application SET credentials_expire_at = now() - interval '1 second' "
                                   "WHERE id = :id"), {"id": created["id"]})
    assert_problem(await client.post(credentials, json={"retrieval_token": token}), 409, "conflict")
    expired = await client.get(f"{APPLY}/{created['id']}/status",
                               headers={"X-Application-Token": created["status_token"]})
    assert (expired.json()["credentials"]["state"], expired.json()["credentials"]["retrieval_token"]) == (
        "expired", None)


async def test_duplicate_applications_are_refused_until_a_rejection(client: httpx.AsyncClient, tokens: Tokens) -> None:
    uscc = random_uscc()
    first = await apply(client, application_body(uscc))
    assert first.status_code == 201
    assert_problem(await apply(client, application_body(uscc.lower())), 409, "conflict")

    regulator = bearer(tokens.regulator())
    no_reason = await client.post(f"{REVIEW}/{first.json()['id']}/reject", json={}, headers=regulator)
    assert_problem(no_reason, 422, "validation-error")
    rejected = await client.post(f"{REVIEW}/{first.json()['id']}/reject", json={"reason": "无固定投诉处理场所"},
                                 headers=regulator)
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == ("rejected", "无固定投诉处理场所")

    second = await apply(client, application_body(uscc, name="格尔木枸杞专营有限公司（更名）"))
    assert second.status_code == 201, second.text
    assert second.json()["merchant_id"] == first.json()["merchant_id"]  # the registry deduplicates by code
    approved = await client.post(f"{REVIEW}/{second.json()['id']}/approve", headers=regulator)
    assert approved.status_code == 200
    assert_problem(await apply(client, application_body(uscc)), 409, "conflict")


async def test_store_of_another_merchant_is_a_conflict(client: httpx.AsyncClient) -> None:
    store = {"platform": "jd", "store_id": uuid.uuid4().hex[:10]}
    assert (await apply(client, application_body(online_stores=[store]))).status_code == 201
    clash = await apply(client, application_body(online_stores=[store]))
    body = assert_problem(clash, 409, "conflict")
    assert body["stores"] == [f"jd:{store['store_id']}"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"uscc": "91632801MA7KL2Q38N"}, "uscc"),              # wrong check character
        ({"uscc": "9163280IMA7KL2Q38M"}, "uscc"),              # I is not in the alphabet
        ({"region_code": "639999"}, "region_code"),            # not a GB/T 2260 region
        ({"undertaking_accepted": False}, "body.undertaking_accepted"),
        ({"contact": {"name": "李明", "phone": "12345"}}, "body.contact.phone"),
        ({"criteria": None}, "body.criteria"),
        ({"fax": "0979-1"}, "body.fax"),                       # unknown fields are refused
    ],
)
async def test_bad_applications_are_422_naming_the_field(client: httpx.AsyncClient, change: dict[str, Any],
                                                          field: str) -> None:
    body = {**application_body(), **change}
    response = await apply(client, body)
    problem = assert_problem(response, 422, "validation-error")
    assert field in [error["field"] for error in problem["errors"]], problem


async def test_staff_count_below_one_is_refused(client: httpx.AsyncClient) -> None:
    body = application_body()
    body["criteria"]["complaint_staff_count"] = 0
    problem = assert_problem(await apply(client, body), 422, "validation-error")
    assert problem["errors"][0]["field"] == "body.criteria.complaint_staff_count"


async def test_oversized_licence_is_413_and_nothing_is_filed(client: httpx.AsyncClient,
                                                              settings: MerchantsSettings) -> None:
    before = files_in(settings.licence_dir)
    big = JPEG + b"\x00" * (settings.licence_max_bytes - len(JPEG) + 1)
    assert_problem(await apply(client, application_body(licence=big)), 413, "payload-too-large")
    assert files_in(settings.licence_dir) == before


async def test_licence_type_is_sniffed_from_content(client: httpx.AsyncClient) -> None:
    html = b"<html><body>licence.pdf</body></html>"
    assert_problem(await apply(client, application_body(licence=html)), 415, "unsupported-media-type")
    body = application_body()
    body["business_licence"]["content_base64"] = "not base64!"
    assert_problem(await apply(client, body), 422, "validation-error")


async def test_applications_are_rate_limited_per_address(client: httpx.AsyncClient,
                                                         settings: MerchantsSettings) -> None:
    address = {"X-Forwarded-For": random_address()}
    statuses = [(await client.post(APPLY, json={}, headers=address)).status_code
                for _ in range(settings.applications_burst + 1)]
    assert statuses == [422] * settings.applications_burst + [429]
    refused = await client.post(APPLY, json={}, headers=address)
    assert_problem(refused, 429, "rate-limited")
    assert int(refused.headers["retry-after"]) >= 1
    other = await client.post(APPLY, json={}, headers={"X-Forwarded-For": random_address()})
    assert other.status_code == 422


async def test_review_is_scoped_to_the_regulators_regions(client: httpx.AsyncClient, tokens: Tokens) -> None:
    created = (await apply(client, application_body())).json()
    xining = bearer(tokens.regulator("630100", sub="reg-xining"))
    golmud = bearer(tokens.regulator("632801"))
    listed = await client.get(REVIEW, params={"status": "pending", "limit": 100}, headers=golmud)
    assert listed.status_code == 200
    ids = [item["id"] for item in listed.json()["items"]]
    while listed.json()["next_cursor"]:
        listed = await client.get(REVIEW, params={"status": "pending", "limit": 100,
                                                  "cursor": listed.json()["next_cursor"]}, headers=golmud)
        ids += [item["id"] for item in listed.json()["items"]]
    assert created["id"] in ids
    elsewhere = await client.get(REVIEW, params={"limit": 100}, headers=xining)
    assert created["id"] not in [item["id"] for item in elsewhere.json()["items"]]
    assert_problem(await client.get(f"{REVIEW}/{created['id']}", headers=xining), 404, "not-found")
    assert_problem(await client.post(f"{REVIEW}/{created['id']}/approve", headers=xining), 404, "not-found")
    mediator = tokens.issuer.issue(sub="med-1", aud=Audience.REGULATOR, roles=[Role.MEDIATOR], region="632801")
    assert_problem(await client.post(f"{REVIEW}/{created['id']}/approve", headers=bearer(mediator)), 403,
                   "forbidden")
    assert_problem(await client.get(REVIEW), 401, "unauthenticated")


async def test_cursor_pages_do_not_overlap(client: httpx.AsyncClient, tokens: Tokens) -> None:
    for _ in range(3):
        assert (await apply(client, application_body())).status_code == 201
    golmud = bearer(tokens.regulator("632801"))
    first = (await client.get(REVIEW, params={"limit": 2}, headers=golmud)).json()
    second = (await client.get(REVIEW, params={"limit": 2, "cursor": first["next_cursor"]}, headers=golmud)).json()
    assert len(first["items"]) == 2
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}
    assert_problem(await client.get(REVIEW, params={"cursor": "%%%"}, headers=golmud), 422, "validation-error")


async def test_the_applicants_personal_data_is_kept_encrypted_and_read_back(
    client: httpx.AsyncClient, tokens: Tokens, settings: MerchantsSettings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    contact = {"name": "司马" + secrets.token_hex(3), "phone": f"139{secrets.randbelow(10**8):08d}"}
    filename = f"营业执照-{contact['name']}.pdf"
    address = random_address()
    body = application_body(contact=contact, business_licence={**application_body()["business_licence"],
                                                               "filename": filename})
    response = await client.post(APPLY, json=body, headers={"X-Forwarded-For": address})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["licence"]["filename"] == filename
    regulator = bearer(tokens.regulator("632801"))
    read = (await client.get(f"{REVIEW}/{created['id']}", headers=regulator)).json()
    assert read["contact"] == contact
    assert read["licence"]["filename"] == filename
    listed = (await client.get(REVIEW, params={"q": body["uscc"]}, headers=regulator)).json()["items"]
    assert [item["contact"] for item in listed] == [contact]
    licence = await client.get(f"{REVIEW}/{created['id']}/licence", headers=regulator)
    assert licence.headers["content-disposition"].endswith("filename*=utf-8''" + quote(filename))

    async with sessionmaker() as session:
        stored = (await session.execute(text(
            "SELECT a::text AS application, submitted_from_enc, contact_name_enc, contact_phone_enc "
            "FROM odr_application a WHERE id = :id"), {"id": created["id"]})).one()
        trail = (await session.scalars(text(
            "SELECT e::text FROM enrollment_event e JOIN enrollment n ON n.id = e.enrollment_id "
            "WHERE n.merchant_id = :id"), {"id": created["merchant_id"]})).all()
    clear = [contact["name"], contact["phone"], address, filename]
    for row in [stored.application, *trail]:
        assert not [value for value in clear if value in row or value.encode().hex() in row], row
    assert created["id"] in trail[0], "the applicant is named by its application"
    cipher = PiiCipher(settings.pii_key.get_secret_value())
    assert cipher.decrypt(stored.contact_phone_enc, context=sealed_context(uuid.UUID(created["id"]),
                                                                          "contact_phone")) == contact["phone"]
    assert cipher.decrypt(stored.submitted_from_enc, context=sealed_context(uuid.UUID(created["id"]),
                                                                           "submitted_from")) == address
    with pytest.raises(InvalidTag):
        cipher.decrypt(stored.contact_name_enc, context=sealed_context(uuid.UUID(created["id"]), "contact_phone"))
