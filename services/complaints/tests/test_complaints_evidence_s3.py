"""Evidence in an S3-compatible object store: a real S3 HTTP server (moto) on 127.0.0.1, the service configured for
it, uploads and downloads through the API, and the objects checked in the bucket itself."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from complaints_support import Area, Consumer, bearer, file_case
from moto.server import ThreadedMotoServer
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from types_aiobotocore_s3 import S3Client

from complaints.evidence.storage import S3Store
from complaints.main import create_app
from complaints.settings import ComplaintsSettings, EvidenceBackend
from servicekit.settings import DEV_PLACEHOLDER
from servicekit.testing.infra import own_broker, running_app
from servicekit.testing.plugin import Tokens

BUCKET = "odr-evidence-test"
ACCESS_KEY = "odr-test-access"
SECRET_KEY = "odr-test-secret"
REGION = "cn-north-1"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x01" * 300 + b"\xff\xd9"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def bucket(s3_endpoint: str) -> AsyncIterator[S3Client]:
    """A client on the bucket the service writes to (created empty)."""
    async with get_session().create_client(
        "s3", endpoint_url=s3_endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as client:
        await client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


@pytest.fixture(scope="module")
async def s3_settings(settings: ComplaintsSettings, s3_endpoint: str, bucket: S3Client,
                      tmp_path_factory: pytest.TempPathFactory) -> ComplaintsSettings:
    return settings.model_copy(update={
        "evidence_store": EvidenceBackend.S3, "evidence_s3_endpoint_url": s3_endpoint, "evidence_s3_bucket": BUCKET,
        "evidence_s3_region": REGION, "evidence_s3_access_key": ACCESS_KEY,
        "evidence_s3_secret_key": SecretStr(SECRET_KEY), "evidence_dir": tmp_path_factory.mktemp("unused-evidence"),
    })


@pytest.fixture(scope="module")
async def s3_client(s3_settings: ComplaintsSettings) -> AsyncIterator[httpx.AsyncClient]:
    # A broker of its own: this app's consumers must not take partitions from the suite's app.
    with own_broker() as bootstrap:
        app = create_app(s3_settings.model_copy(update={"kafka_bootstrap": bootstrap}))
        async with running_app(app, bootstrap), httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://complaints") as client:
            yield client


def local_files(settings: ComplaintsSettings) -> int:
    return sum(1 for path in Path(settings.evidence_dir).rglob("*") if path.is_file())


async def object_keys(bucket: S3Client) -> set[str]:
    listed = await bucket.list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listed.get("Contents", [])}


async def test_an_upload_lands_in_the_bucket_and_downloads_back(
    s3_client: httpx.AsyncClient, s3_settings: ComplaintsSettings, bucket: S3Client, engine: AsyncEngine,
    consumer: Consumer, tokens: Tokens, area: Area,
) -> None:
    _, auth = consumer()
    before = await object_keys(bucket)

    uploaded = await s3_client.post("/v1/consumer/evidence", params={"filename": "发票.jpg"}, content=JPEG,
                                    headers={**auth, "Content-Type": "application/octet-stream"})

    assert uploaded.status_code == 201, uploaded.text
    evidence = uploaded.json()
    assert evidence["sha256"] == hashlib.sha256(JPEG).hexdigest()
    async with engine.connect() as connection:
        key = (await connection.execute(text("SELECT storage_key FROM evidence WHERE id = :id"),
                                        {"id": uuid.UUID(evidence["id"])})).scalar_one()
    assert await object_keys(bucket) == before | {key}
    stored = await bucket.get_object(Bucket=BUCKET, Key=key)
    async with stored["Body"] as body:
        assert await body.read() == JPEG
    assert local_files(s3_settings) == 0

    filed = await file_case(s3_client, auth, area.first, evidence_ids=[evidence["id"]])
    mine = await s3_client.get(f"/v1/consumer/complaints/{filed['id']}/evidence/{evidence['id']}", headers=auth)
    staff = await s3_client.get(f"/v1/regulator/complaints/{filed['id']}/evidence/{evidence['id']}",
                                headers=bearer(tokens.regulator(region=area.first)))
    assert (mine.status_code, mine.content, mine.headers["content-type"]) == (200, JPEG, "image/jpeg")
    assert staff.content == JPEG


async def test_the_store_puts_gets_and_deletes_objects(s3_settings: ComplaintsSettings, bucket: S3Client) -> None:
    store = S3Store(bucket=BUCKET, endpoint_url=s3_settings.evidence_s3_endpoint_url, region=REGION,
                    access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    key = f"test/{uuid.uuid4()}"

    assert await store.put(key, b"receipt") == hashlib.sha256(b"receipt").hexdigest()
    assert await store.get(key) == b"receipt"
    await store.delete(key)
    await store.delete(key)  # a second delete of the same key is harmless

    assert key not in await object_keys(bucket)
    with pytest.raises(ClientError, match="NoSuchKey"):
        await store.get(key)


async def test_the_store_reports_a_missing_bucket(s3_settings: ComplaintsSettings) -> None:
    store = S3Store(bucket="no-such-bucket", endpoint_url=s3_settings.evidence_s3_endpoint_url, region=REGION,
                    access_key=ACCESS_KEY, secret_key=SECRET_KEY)

    with pytest.raises(ClientError, match="NoSuchBucket"):
        await store.put("x", b"receipt")


def test_production_refuses_the_placeholder_s3_secret_only_when_s3_is_chosen() -> None:
    real = {"environment": "prod", "pii_key": "real-pii-key", "subject_key": "real-subject-key",
            "internal_token": "real-token", "jwt_public_key": "-----BEGIN PUBLIC KEY-----"}

    with pytest.raises(ValidationError, match="ODR_EVIDENCE_S3_SECRET_KEY must be set to a real secret"):
        ComplaintsSettings(**real, evidence_store="s3")
    with pytest.raises(ValidationError, match="ODR_EVIDENCE_S3_SECRET_KEY"):
        ComplaintsSettings(**real, evidence_store="s3", evidence_s3_secret_key="")
    assert ComplaintsSettings(**real, evidence_store="s3", evidence_s3_secret_key="real-secret").evidence_store == "s3"
    assert ComplaintsSettings(**real).evidence_s3_secret_key.get_secret_value() == DEV_PLACEHOLDER
    assert ComplaintsSettings(evidence_store="s3").is_dev
