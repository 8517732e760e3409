"""``check_writable`` and ``write_file``, as the speech module's save_to calls them."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.service import authenticate_api_key
from scaispeak.platform.drive.errors import FileExists, InvalidPath, UnknownShare
from scaispeak.platform.drive.files import FileRef, check_writable, staged_write, write_file
from scaispeak.platform.drive.models import DriveFile
from scaispeak.platform.errors import Forbidden
from scaispeak.platform.storage import BlobStore
from tests.conftest import LiveApp
from tests.platform.drive.client import DriveClient
from tests.support.members import new_member_of_tenant_a

AUDIO = b"RIFF" + bytes(range(256)) * 64


async def principal_of(live: LiveApp, key: str) -> Principal:
    async with live.app.state.platform.db.sessions() as session:
        return await authenticate_api_key(session, key)


async def save(
    live: LiveApp,
    who: Principal,
    share_id: str,
    path: str,
    data: bytes | AsyncIterator[bytes],
    *,
    overwrite: bool = False,
) -> FileRef:
    platform = live.app.state.platform
    async with platform.db.sessions() as session:
        return await write_file(
            session, platform.storage, who, share_id, path, data, "audio/wav", overwrite=overwrite
        )


async def breaks_midway() -> AsyncIterator[bytes]:
    yield AUDIO[:1000]
    await asyncio.sleep(0)
    yield AUDIO[1000:2000]
    raise RuntimeError("synthesis crashed mid-file")


def blob_files(live: LiveApp, share_id: str) -> list[Path]:
    folder: Path = live.app.state.platform.storage.root / "objects" / "drive" / share_id
    return sorted(folder.iterdir()) if folder.exists() else []


async def file_rows(live: LiveApp, share_id: str) -> list[DriveFile]:
    async with live.app.state.platform.db.sessions() as session:
        stmt = select(DriveFile).where(DriveFile.share_id == share_id)
        return list((await session.execute(stmt)).scalars())


async def test_write_file_returns_a_reference_with_digest_and_url(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    who = await principal_of(live, live.tenancy.member_a)
    ref = await save(live, who, share_id, "out/chapter-1.wav", AUDIO)
    assert ref == FileRef(
        share_id=share_id,
        path="out/chapter-1.wav",
        size=len(AUDIO),
        sha256=hashlib.sha256(AUDIO).hexdigest(),
        content_type="audio/wav",
        url=f"/v1/drive/shares/{share_id}/files/out/chapter-1.wav",
    )
    downloaded = await live.client.get(ref.url, headers=live.auth(live.tenancy.member_a))
    assert downloaded.content == AUDIO


async def test_check_writable_refuses_before_any_work(live: LiveApp) -> None:
    t = live.tenancy
    owner = DriveClient(live, t.member_a)
    share_id = await owner.new_share()
    await owner.put(share_id, "taken.wav", b"x")
    reader_id, reader_key = await new_member_of_tenant_a(live)
    await owner.set_member(share_id, reader_id, "read")
    foreign_share = await DriveClient(live, t.member_b).new_share()
    member = await principal_of(live, t.member_a)
    async with live.app.state.platform.db.sessions() as session:
        with pytest.raises(UnknownShare):
            await check_writable(session, member, "shr_missing", "a.wav", False)
        with pytest.raises(UnknownShare):
            await check_writable(session, member, foreign_share, "a.wav", False)
        with pytest.raises(Forbidden):
            await check_writable(session, await principal_of(live, reader_key), share_id, "a", True)
        with pytest.raises(FileExists):
            await check_writable(session, member, share_id, "taken.wav", False)
        with pytest.raises(InvalidPath):
            await check_writable(session, member, share_id, "../x.wav", True)
        assert await check_writable(session, member, share_id, "taken.wav", True) == "taken.wav"


async def test_a_stream_failing_midway_leaves_no_file_and_no_blob(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    who = await principal_of(live, live.tenancy.member_a)
    with pytest.raises(RuntimeError, match="crashed"):
        await save(live, who, share_id, "partial.wav", breaks_midway())
    assert await file_rows(live, share_id) == []
    assert blob_files(live, share_id) == []


async def test_a_failed_overwrite_keeps_the_previous_version(live: LiveApp) -> None:
    client = DriveClient(live, live.tenancy.member_a)
    share_id = await client.new_share()
    who = await principal_of(live, live.tenancy.member_a)
    first = await save(live, who, share_id, "take.wav", b"version one")
    with pytest.raises(RuntimeError):
        await save(live, who, share_id, "take.wav", breaks_midway(), overwrite=True)
    assert (await client.get(share_id, "take.wav")).content == b"version one"
    [row] = await file_rows(live, share_id)
    assert row.sha256 == first.sha256
    assert len(blob_files(live, share_id)) == 1


async def test_overwrite_replaces_and_frees_the_old_blob(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    who = await principal_of(live, live.tenancy.member_a)
    await save(live, who, share_id, "take.wav", b"one")
    with pytest.raises(FileExists):
        await save(live, who, share_id, "take.wav", b"two")
    ref = await save(live, who, share_id, "take.wav", b"two", overwrite=True)
    assert ref.replaced and ref.size == 3
    assert [p.read_bytes() for p in blob_files(live, share_id)] == [b"two"]


async def test_concurrent_overwrites_leave_one_file_and_one_blob(live: LiveApp) -> None:
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    who = await principal_of(live, live.tenancy.member_a)
    await save(live, who, share_id, "race.wav", b"start")
    contents = [f"writer {n}".encode() for n in range(8)]
    await asyncio.gather(
        *(save(live, who, share_id, "race.wav", c, overwrite=True) for c in contents)
    )
    [row] = await file_rows(live, share_id)
    [blob] = blob_files(live, share_id)
    assert blob.read_bytes() in contents
    assert row.sha256 == hashlib.sha256(blob.read_bytes()).hexdigest()


async def test_storage_failure_before_commit_leaves_nothing(live: LiveApp) -> None:
    """If the blob store itself fails (disk full, S3 down), no row is written."""
    share_id = await DriveClient(live, live.tenancy.member_a).new_share()
    who = await principal_of(live, live.tenancy.member_a)
    storage: BlobStore = live.app.state.platform.storage

    class FullDisk:
        def __getattr__(self, name: str) -> object:
            return getattr(storage, name)

        async def put_bytes(self, key: str, data: bytes) -> None:
            raise OSError(28, "No space left on device")

    full: BlobStore = FullDisk()  # type: ignore[assignment]
    async with live.app.state.platform.db.sessions() as session:
        with pytest.raises(OSError, match="No space"):
            await write_file(
                session, full, who, share_id, "a.wav", AUDIO, "audio/wav", overwrite=False
            )
    assert await file_rows(live, share_id) == []


async def test_a_writer_removed_from_the_share_during_the_upload_lands_nothing(
    live: LiveApp,
) -> None:
    """The role was checked before the bytes only: an upload (or a job's copy) takes
    minutes, and a member offboarded meanwhile still created or replaced files."""
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    writer_id, writer_key = await new_member_of_tenant_a(live)
    await owner.set_member(share_id, writer_id, "write")
    writer = await principal_of(live, writer_key)

    async def removed_midway() -> AsyncIterator[bytes]:
        yield AUDIO[:1000]
        assert (await owner.remove_member(share_id, writer_id)).status_code == 204
        yield AUDIO[1000:]

    with pytest.raises(UnknownShare):
        await save(live, writer, share_id, "late.wav", removed_midway())
    assert await file_rows(live, share_id) == []
    assert blob_files(live, share_id) == []


async def test_an_overwrite_cancelled_after_its_commit_frees_the_blob_it_replaced(
    live: LiveApp,
) -> None:
    """A worker stopping as the block's commit returned kept the new file, rightly, but
    left the old version's blob behind for good (no sweep covers the drive)."""
    owner = DriveClient(live, live.tenancy.member_a)
    share_id = await owner.new_share()
    await owner.put(share_id, "a.wav", b"old")
    who = await principal_of(live, live.tenancy.member_a)
    platform = live.app.state.platform
    async with platform.db.sessions() as session:
        staged = staged_write(
            session, platform.storage, who, share_id, "a.wav", AUDIO, "audio/wav", overwrite=True
        )
        with pytest.raises(asyncio.CancelledError):
            async with staged:
                await session.commit()
                raise asyncio.CancelledError
    downloaded = await live.client.get(
        f"/v1/drive/shares/{share_id}/files/a.wav", headers=live.auth(live.tenancy.member_a)
    )
    assert downloaded.content == AUDIO
    assert len(blob_files(live, share_id)) == 1  # the new version's only
