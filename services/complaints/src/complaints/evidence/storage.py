"""Where evidence files live: a directory on local disk by default, or a bucket of an S3-compatible object store."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from complaints.settings import ComplaintsSettings, EvidenceBackend
from servicekit.uploads import FileStore, LocalDiskStore

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


class S3Store:
    """Objects in one bucket of an S3-compatible store (AWS S3, MinIO, Ceph RGW, ...), addressed by path so that
    self-hosted endpoints need no wildcard DNS. A client per call: uploads are rare, and the service has no shutdown
    hook that could close a pooled one."""

    def __init__(self, *, bucket: str, endpoint_url: str | None, region: str, access_key: str,
                 secret_key: str) -> None:
        self.bucket = bucket
        self._endpoint_url = endpoint_url
        self._region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._session = get_session()
        self._config = AioConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"})

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[S3Client]:
        async with self._session.create_client(
            "s3", endpoint_url=self._endpoint_url, region_name=self._region, aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key, config=self._config,
        ) as client:
            yield client

    async def put(self, key: str, content: bytes) -> str:
        """Upload the object; the store verifies the SHA-256 sent with it, which is returned (hex)."""
        digest = hashlib.sha256(content).digest()
        async with self._client() as client:
            await client.put_object(Bucket=self.bucket, Key=key, Body=content,
                                    ChecksumSHA256=base64.b64encode(digest).decode())
        return digest.hex()

    async def get(self, key: str) -> bytes:
        """The object's contents."""
        async with self._client() as client:
            response = await client.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as body:
                return await body.read()

    async def delete(self, key: str) -> None:
        """Remove the object (deleting a missing key is not an error in S3)."""
        async with self._client() as client:
            await client.delete_object(Bucket=self.bucket, Key=key)


def evidence_store(settings: ComplaintsSettings) -> FileStore:
    """The store the settings choose."""
    if settings.evidence_store is EvidenceBackend.S3:
        return S3Store(bucket=settings.evidence_s3_bucket, endpoint_url=settings.evidence_s3_endpoint_url,
                       region=settings.evidence_s3_region, access_key=settings.evidence_s3_access_key,
                       secret_key=settings.evidence_s3_secret_key.get_secret_value())
    return LocalDiskStore(settings.evidence_dir)
