"""The drive over HTTP with its blobs in a real S3-compatible server (moto)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scaispeak.app import create_app
from scaispeak.platform.storage import StorageUnusable
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp
from tests.platform.drive.client import DriveClient
from tests.platform.drive.conftest import Bucket, s3_settings
from tests.platform.test_auth import assert_problem

CHAPTER = bytes(range(256)) * 4096  # 1 MiB


async def test_upload_range_download_and_delete_through_s3(
    live_s3: tuple[LiveApp, Bucket],
) -> None:
    live, bucket = live_s3
    client = DriveClient(live, live.tenancy.member_a)
    share = await client.new_share()
    made = await client.put(share, "book/ch1.wav", CHAPTER, {"content-type": "audio/wav"})
    assert made.status_code == 201, made.text
    assert made.json()["sha256"] == hashlib.sha256(CHAPTER).hexdigest()
    [key] = bucket.keys()
    assert key.startswith(f"blobs/drive/{share}/")

    whole = await client.get(share, "book/ch1.wav")
    assert whole.content == CHAPTER
    middle = await client.get(share, "book/ch1.wav", {"range": "bytes=500000-500099"})
    assert middle.status_code == 206 and middle.content == CHAPTER[500_000:500_100]
    suffix = await client.get(share, "book/ch1.wav", {"range": "bytes=-10"})
    assert suffix.content == CHAPTER[-10:]
    assert_problem(
        await client.get(share, "book/ch1.wav", {"range": f"bytes={len(CHAPTER)}-"}),
        416,
        "range_not_satisfiable",
    )

    assert (await client.put(share, "book/ch1.wav", b"short")).status_code == 200
    [replaced] = bucket.keys()
    assert replaced != key  # the old object is gone, the new one under a fresh key
    assert (await client.delete(share, "book/ch1.wav")).status_code == 204
    assert bucket.keys() == []


async def test_broken_upload_stream_leaves_no_object_in_s3(
    live_s3: tuple[LiveApp, Bucket],
) -> None:
    live, bucket = live_s3
    from scaispeak.platform.auth.service import authenticate_api_key
    from scaispeak.platform.drive.files import write_file

    share = await DriveClient(live, live.tenancy.member_a).new_share()

    async def breaks() -> AsyncIterator[bytes]:
        yield CHAPTER * 6  # beyond one multipart part
        raise RuntimeError("encoder died")

    platform = live.app.state.platform
    async with platform.db.sessions() as session:
        who = await authenticate_api_key(session, live.tenancy.member_a)
        with pytest.raises(RuntimeError):
            await write_file(
                session,
                platform.storage,
                who,
                share,
                "x.wav",
                breaks(),
                "audio/wav",
                overwrite=True,
            )
    assert bucket.keys() == []
    assert bucket.unfinished_uploads() == 0
    listed = await DriveClient(live, live.tenancy.member_a).list_files(share)
    assert listed.json()["items"] == []


async def test_a_missing_bucket_stops_start_up_saying_why(
    tmp_path: Path, s3_endpoint: str, engines: EngineRegistry
) -> None:
    """Not a 500 on the first write and 404s on every read (it looks like no blob)."""
    gone = Bucket(s3_endpoint, f"never-made-{uuid.uuid4().hex[:8]}")
    app = create_app(s3_settings(tmp_path, gone), engines=engines)
    with pytest.raises(StorageUnusable, match="cannot store and read back") as refused:
        async with app.router.lifespan_context(app):
            pass
    assert "because" in str(refused.value)  # the store's own reason, not only ours


async def test_the_start_up_probe_leaves_nothing_in_the_bucket(
    live_s3: tuple[LiveApp, Bucket],
) -> None:
    _, bucket = live_s3
    assert bucket.keys() == []
