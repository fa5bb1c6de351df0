"""Attachments of case messages: upload, reference from a message, download by participants only."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
from mediation_testkit import ApplyEvent, bearer, count_rows, open_case, outbox_events
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mediation.settings import MediationSettings
from servicekit.testing.plugin import Tokens

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00" + b"\x00" * 64


def stored_files(settings: MediationSettings) -> list[Path]:
    return sorted(path for path in settings.attachment_dir.rglob("*") if path.is_file())


async def upload(client: httpx.AsyncClient, audience: str, case_id: str, headers: dict[str, str], filename: str,
                 content: bytes, content_type: str = "application/octet-stream") -> httpx.Response:
    return await client.post(f"/v1/{audience}/cases/{case_id}/attachments",
                             files={"file": (filename, content, content_type)}, headers=headers)


async def test_a_party_attaches_a_file_to_a_message_and_the_other_party_downloads_it(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-att")
    consumer, merchant = bearer(tokens.consumer("consumer-att")), bearer(tokens.merchant(merchant_id))

    uploaded = await upload(client, "consumer", case_id, consumer, "收据.png", PNG)
    assert uploaded.status_code == 201, uploaded.text
    attachment = uploaded.json()
    assert {key: attachment[key] for key in ("filename", "content_type", "size", "sha256", "message_id")} == {
        "filename": "收据.png", "content_type": "image/png", "size": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(), "message_id": None}
    assert PNG in [path.read_bytes() for path in stored_files(settings)]

    posted = await client.post(f"/v1/consumer/cases/{case_id}/messages", headers=consumer,
                               json={"text": "付款凭证见附件", "attachment_ids": [attachment["id"]]})
    assert posted.status_code == 201, posted.text
    assert [item["id"] for item in posted.json()["attachments"]] == [attachment["id"]]

    detail = (await client.get(f"/v1/merchant/cases/{case_id}", headers=merchant)).json()
    [message] = detail["messages"]
    assert [(item["filename"], item["content_type"], item["size"], item["sha256"])
            for item in message["attachments"]] == [("收据.png", "image/png", len(PNG), attachment["sha256"])]
    assert [(item["id"], item["message_id"]) for item in detail["attachments"]] == [
        (attachment["id"], posted.json()["id"])]

    downloaded = await client.get(f"/v1/merchant/cases/{case_id}/attachments/{attachment['id']}", headers=merchant)
    assert downloaded.status_code == 200
    assert downloaded.content == PNG
    assert downloaded.headers["content-type"] == "image/png"
    assert "attachment;" in downloaded.headers["content-disposition"]

    posted_events = [payload for event, payload in await outbox_events(sessionmaker, case_id)
                     if event == "mediation.case.message_posted.v1"]
    assert [payload["attachment_count"] for payload in posted_events] == [1]

    # An upload is referenced once, by its own uploader, in its own case.
    again = await client.post(f"/v1/consumer/cases/{case_id}/messages", headers=consumer,
                              json={"text": "再发一次", "attachment_ids": [attachment["id"]]})
    merchant_upload = (await upload(client, "merchant", case_id, merchant, "reply.pdf", PDF)).json()
    borrowed = await client.post(f"/v1/consumer/cases/{case_id}/messages", headers=consumer,
                                 json={"text": "借用", "attachment_ids": [merchant_upload["id"]]})
    other_case = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-att")
    elsewhere = await client.post(f"/v1/consumer/cases/{other_case}/messages", headers=consumer,
                                  json={"text": "跨案", "attachment_ids": [attachment["id"]]})
    for refused in (again, borrowed, elsewhere):
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "body.attachment_ids"
    assert (await count_rows(sessionmaker, case_id))["messages"] == 1
    assert (await count_rows(sessionmaker, other_case))["messages"] == 0


async def test_non_participants_get_404(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens
) -> None:
    merchant_id = uuid.uuid4()
    case_id = await open_case(apply_event, sessionmaker, merchant_id=merchant_id, consumer_id="consumer-own")
    attachment = (await upload(client, "consumer", case_id, bearer(tokens.consumer("consumer-own")), "a.pdf",
                               PDF)).json()
    path = f"/v1/consumer/cases/{case_id}/attachments/{attachment['id']}"
    assert (await client.get(path, headers=bearer(tokens.consumer("consumer-own")))).status_code == 200
    stranger, other_merchant = bearer(tokens.consumer("consumer-stranger")), bearer(tokens.merchant(uuid.uuid4()))
    assert (await client.get(path, headers=stranger)).status_code == 404
    assert (await client.get(f"/v1/merchant/cases/{case_id}/attachments/{attachment['id']}",
                             headers=other_merchant)).status_code == 404
    assert (await upload(client, "consumer", case_id, stranger, "b.pdf", PDF)).status_code == 404
    unknown = await client.get(f"/v1/consumer/cases/{case_id}/attachments/{uuid.uuid4()}",
                               headers=bearer(tokens.consumer("consumer-own")))
    assert unknown.status_code == 404
    assert (await count_rows(sessionmaker, case_id))["attachments"] == 1


@pytest.mark.parametrize(("filename", "content", "status"), [
    ("big.pdf", b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024), 413),
    ("photo.jpg", ELF, 415),
    ("photo.jpg", PE, 415),
    ("photo.jpg", PNG, 415),  # a real PNG whose name claims JPEG
    ("notes.txt", b"plain text", 415),
    ("empty.png", b"", 422),
])
async def test_refused_uploads_write_nothing(
    client: httpx.AsyncClient, apply_event: ApplyEvent, sessionmaker: async_sessionmaker[AsyncSession],
    tokens: Tokens, settings: MediationSettings, filename: str, content: bytes, status: int
) -> None:
    case_id = await open_case(apply_event, sessionmaker, merchant_id=uuid.uuid4(), consumer_id="consumer-bad")
    before_rows, before_files = await count_rows(sessionmaker, case_id), stored_files(settings)
    response = await upload(client, "consumer", case_id, bearer(tokens.consumer("consumer-bad")), filename, content,
                            content_type="image/jpeg")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await count_rows(sessionmaker, case_id) == before_rows
    assert stored_files(settings) == before_files
