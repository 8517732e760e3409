"""Storage readiness against a real S3 API (moto): a missing bucket must not pass for a
missing key."""

from __future__ import annotations

import uuid

import httpx

from scaispeak.platform.readiness import READINESS_KEY, check_all, storage_probe
from scaispeak.platform.storage import S3BlobStore
from tests.platform.drive.conftest import Bucket


async def test_a_store_whose_bucket_is_missing_is_not_ready(s3_endpoint: str) -> None:
    missing = Bucket(s3_endpoint, f"gone-{uuid.uuid4().hex[:12]}")
    store = S3BlobStore.from_url(missing.url, "key-id", "secret")
    assert await check_all({"storage": storage_probe(store)}) == {"storage": False}


async def test_a_store_with_its_bucket_is_ready_and_keeps_the_probe_blob(bucket: Bucket) -> None:
    store = S3BlobStore.from_url(bucket.url, "key-id", "secret")
    probe = storage_probe(store)
    assert await check_all({"storage": probe}) == {"storage": True}
    kept = bucket.keys()
    assert f"blobs/{READINESS_KEY}" in kept
    # Later probes only read it; a probe after its bucket is deleted fails.
    assert await check_all({"storage": probe}) == {"storage": True}
    await store.delete(READINESS_KEY)
    async with httpx.AsyncClient() as client:
        deleted = await client.delete(f"{bucket.endpoint}/{bucket.name}")
    assert deleted.status_code == 204
    assert await check_all({"storage": probe}) == {"storage": False}
