"""Evidence attachments: sniffed type, size limit, checksum; attached by a filing; downloads by owner and staff."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from complaints_support import Area, Consumer, Count, bearer, complaint_body, file_case, unregistered

from complaints.settings import ComplaintsSettings
from servicekit.testing.plugin import Tokens

UPLOAD = "/v1/consumer/evidence"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def stored_files(settings: ComplaintsSettings) -> int:
    return sum(1 for path in settings.evidence_dir.rglob("*") if path.is_file())


async def upload(client: httpx.AsyncClient, auth: dict[str, str], content: bytes, filename: str) -> httpx.Response:
    return await client.post(UPLOAD, params={"filename": filename}, content=content,
                              headers={**auth, "Content-Type": "application/octet-stream"})


async def test_an_upload_is_sniffed_checksummed_attached_and_downloadable(
    client: httpx.AsyncClient, consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    _, stranger = consumer()

    uploaded = await upload(client, auth, JPEG, "../../收据.JPG")

    assert uploaded.status_code == 201, uploaded.text
    evidence = uploaded.json()
    assert (evidence["filename"], evidence["media_type"], evidence["size_bytes"]) == ("收据.JPG", "image/jpeg",
                                                                                      len(JPEG))
    assert evidence["sha256"] == hashlib.sha256(JPEG).hexdigest()
    filed = await file_case(client, auth, area.first, evidence_ids=[evidence["id"]])
    assert [item["id"] for item in filed["evidence"]] == [evidence["id"]]

    mine = await client.get(f"/v1/consumer/complaints/{filed['id']}/evidence/{evidence['id']}", headers=auth)
    staff = await client.get(f"/v1/regulator/complaints/{filed['id']}/evidence/{evidence['id']}",
                             headers=bearer(tokens.regulator(region=area.first)))
    theirs = await client.get(f"/v1/consumer/complaints/{filed['id']}/evidence/{evidence['id']}", headers=stranger)
    elsewhere = await client.get(f"/v1/regulator/complaints/{filed['id']}/evidence/{evidence['id']}",
                                 headers=bearer(tokens.regulator(region="632802")))
    assert (mine.status_code, mine.content, mine.headers["content-type"]) == (200, JPEG, "image/jpeg")
    assert mine.headers["x-content-type-options"] == "nosniff"
    assert staff.content == JPEG
    assert theirs.status_code == elsewhere.status_code == 404


async def test_an_upload_is_attached_once_and_only_by_its_owner(
    client: httpx.AsyncClient, consumer: Consumer, area: Area, count: Count,
) -> None:
    _, owner = consumer()
    _, other = consumer()
    evidence_id = (await upload(client, owner, PDF, "发票.pdf")).json()["id"]
    before = await count("complaint")

    response = await client.post("/v1/consumer/complaints", headers=other,
                                 json=complaint_body(respondent=unregistered(area.first), evidence_ids=[evidence_id]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.evidence_ids"
    assert await count("complaint") == before

    await file_case(client, owner, area.first, evidence_ids=[evidence_id])
    again = await client.post("/v1/consumer/complaints", headers=owner,
                              json=complaint_body(respondent=unregistered(area.first), evidence_ids=[evidence_id]))
    assert again.status_code == 422


@pytest.mark.parametrize(
    ("content", "filename", "status", "field"),
    [
        (EXE, "photo.jpg", 415, "body"),                  # an executable named .jpg
        (PDF, "photo.jpg", 415, "query.filename"),        # a real PDF with a lying extension
        (b"just some text", "notes.txt", 415, "body"),
        (b"", "empty.jpg", 422, "body"),
        (JPEG + b"\x00" * (10 * 1024 * 1024), "huge.jpg", 413, "body"),   # 10 MB
    ],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, consumer: Consumer, count: Count, settings: ComplaintsSettings,
    content: bytes, filename: str, status: int, field: str,
) -> None:
    _, auth = consumer()
    before = (await count("evidence"), stored_files(settings))

    response = await upload(client, auth, content, filename)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert (await count("evidence"), stored_files(settings)) == before


async def test_uploads_need_a_consumer_token(client: httpx.AsyncClient, tokens: Tokens) -> None:
    response = await client.post(UPLOAD, params={"filename": "a.jpg"}, content=JPEG,
                                 headers=bearer(tokens.merchant(uuid.uuid4())))

    assert response.status_code == 403
