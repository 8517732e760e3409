"""Drive fixtures: a real S3-compatible server (moto, as a separate process), blob stores
of both kinds, and apps whose drive stores blobs in S3.

The moto server starts once per test session on a free loopback port; every test gets
a bucket of its own, so tests never see each other's objects.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scaispeak.app import create_app
from scaispeak.platform.storage import BlobStore, LocalBlobStore, S3BlobStore
from scaispeak.settings import Settings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp, build_tenancy, make_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``moto_server`` in its own process: a real HTTP S3 API, not a patched client."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str

    @property
    def url(self) -> str:
        return f"s3://{self.name}/blobs?endpoint={self.endpoint}&region=us-east-1"

    def keys(self) -> list[str]:
        """Every object key in the bucket, listed over the S3 API."""
        listing = httpx.get(f"{self.endpoint}/{self.name}", params={"list-type": "2"}).text
        return [part.split("</Key>")[0] for part in listing.split("<Key>")[1:]]

    def unfinished_uploads(self) -> int:
        """Multipart uploads begun and neither completed nor aborted (hidden garbage)."""
        return httpx.get(f"{self.endpoint}/{self.name}", params={"uploads": ""}).text.count(
            "<Upload>"
        )


@pytest.fixture
def bucket(s3_endpoint: str) -> Bucket:
    name = f"test-{uuid.uuid4().hex[:12]}"
    httpx.put(f"{s3_endpoint}/{name}").raise_for_status()
    return Bucket(s3_endpoint, name)


def s3_store(bucket: Bucket) -> S3BlobStore:
    return S3BlobStore.from_url(bucket.url, "test-key-id", "test-secret")


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The same contract tests run against each implementation."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return s3_store(request.getfixturevalue("bucket"))


def s3_settings(data_dir: Path, bucket: Bucket) -> Settings:
    """Test settings whose blobs live in ``bucket`` (which need not exist)."""
    return make_settings(
        data_dir,
        storage_url=bucket.url,
        storage_access_key_id="test-key-id",
        storage_secret_access_key="test-secret",
    )


@pytest.fixture
async def live_s3(
    tmp_path: Path, bucket: Bucket, engines: EngineRegistry
) -> AsyncIterator[tuple[LiveApp, Bucket]]:
    """An app (SQLite) whose drive keeps its blobs in the moto bucket."""
    app = create_app(s3_settings(tmp_path, bucket), engines=engines)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield LiveApp(app, client, await build_tenancy(client, app)), bucket
