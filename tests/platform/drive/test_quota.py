"""A tenant's drive files share one quota: one member must not fill the disk that every
tenant's uploads, job audio and database live on (helper-90)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from scaispeak.platform.accounting.models import ReservationState
from tests.conftest import LiveApp
from tests.platform.drive.client import DriveClient
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.support import give_tenant_a_budget, hold_state
from tests.speak.jobs.test_jobs_embedded import JOE, submit, wait_for

QUOTA = 300


@pytest.fixture
def small_quota(live: LiveApp) -> LiveApp:
    live.app.state.platform.settings.limits.drive_tenant_max_bytes = QUOTA
    return live


def stored_blobs(live: LiveApp) -> list[Any]:
    objects = live.app.state.platform.storage.root / "objects" / "drive"
    return [p for p in objects.rglob("*") if p.is_file()] if objects.exists() else []


async def test_writes_past_the_quota_are_413_and_store_nothing(small_quota: LiveApp) -> None:
    live = small_quota
    client = DriveClient(live, live.tenancy.member_a)
    first, second = await client.new_share(), await client.new_share()
    assert (await client.put(first, "a.bin", b"a" * 200)).status_code == 201
    refused = await client.put(second, "b.bin", b"b" * 101)  # the quota spans shares
    assert_problem(refused, 413, "drive_quota_exceeded")
    assert refused.json()["limit"] == QUOTA and refused.json()["used"] == 200
    assert (await client.list_files(second)).json()["items"] == []
    assert len(stored_blobs(live)) == 1
    assert (await client.put(second, "b.bin", b"b" * 100)).status_code == 201  # fills it


async def test_a_replaced_file_frees_its_bytes(small_quota: LiveApp) -> None:
    client = DriveClient(small_quota, small_quota.tenancy.member_a)
    share = await client.new_share()
    assert (await client.put(share, "a.bin", b"a" * QUOTA)).status_code == 201
    assert (await client.put(share, "a.bin", b"b" * QUOTA)).status_code == 200
    assert_problem(await client.put(share, "c.bin", b"c"), 413, "drive_quota_exceeded")
    assert (await client.delete(share, "a.bin")).status_code == 204
    assert (await client.put(share, "c.bin", b"c" * QUOTA)).status_code == 201


async def test_an_upload_stops_once_it_passes_the_room_left(small_quota: LiveApp) -> None:
    live = small_quota
    client = DriveClient(live, live.tenancy.member_a)
    share = await client.new_share()
    assert (await client.put(share, "a.bin", b"a" * 250)).status_code == 201
    pulled = 0

    async def undeclared() -> AsyncIterator[bytes]:  # chunked: no Content-Length up front
        nonlocal pulled
        for _ in range(1000):
            pulled += 16
            yield b"y" * 16

    assert_problem(await client.put(share, "big.bin", undeclared()), 413, "drive_quota_exceeded")
    assert pulled < 200  # not the whole 16,000 bytes
    assert len(stored_blobs(live)) == 1


async def test_one_tenants_full_drive_leaves_another_writing(small_quota: LiveApp) -> None:
    live = small_quota
    a = DriveClient(live, live.tenancy.member_a)
    b = DriveClient(live, live.tenancy.member_b)
    share_a, share_b = await a.new_share(), await b.new_share()
    assert (await a.put(share_a, "full.bin", b"a" * QUOTA)).status_code == 201
    assert (await b.put(share_b, "mine.bin", b"b" * QUOTA)).status_code == 201


async def test_speech_saved_to_a_full_drive_is_refused(small_quota: LiveApp) -> None:
    live = small_quota
    client = DriveClient(live, live.tenancy.member_a)
    share = await client.new_share()
    assert (await client.put(share, "full.bin", b"a" * QUOTA)).status_code == 201
    target = {"share_id": share, "path": "hello.wav"}
    inline = await live.client.post(
        "/v1/modules/scaispeak/speak",
        json={"text": "Hello there.", "voice_id": JOE, "save_to": target},
        headers=live.auth(live.tenancy.member_a),
    )
    assert_problem(inline, 413, "drive_quota_exceeded")
    # A job learns it at the end, fails, and is not charged.
    runtime = live.app.state.speak.jobs.runtime
    assert runtime.drive_quota_bytes == 20 * 1024**3  # wired from the settings' default
    runtime.drive_quota_bytes = QUOTA
    await give_tenant_a_budget(live)
    job = (await submit(live, format="wav", save_to=target)).json()
    done = await wait_for(live, job["id"], {"succeeded", "failed", "cancelled"}, seconds=60)
    assert done["state"] == "failed" and "quota" in done["error"], done
    assert await hold_state(live, job["id"]) is ReservationState.released
    assert len(stored_blobs(live)) == 1


async def test_uploads_landing_together_share_the_quota(small_quota: LiveApp) -> None:
    """Each final check read the same total on PostgreSQL: five 200-byte uploads all
    landed against a 300-byte quota (helper-91)."""
    client = DriveClient(small_quota, small_quota.tenancy.member_a)
    share = await client.new_share()
    go = asyncio.Event()

    async def half_then_wait(tag: bytes) -> AsyncIterator[bytes]:
        yield tag * 100
        await go.wait()  # every upload is past its first checks before any lands
        yield tag * 100

    uploads = [
        asyncio.create_task(client.put(share, f"f{i}.bin", half_then_wait(bytes([65 + i]))))
        for i in range(5)
    ]
    await asyncio.sleep(0.5)
    go.set()
    codes = sorted(answer.status_code for answer in await asyncio.gather(*uploads))
    assert codes == [201, 413, 413, 413, 413]
    listed = (await client.list_files(share)).json()["items"]
    assert sum(f["size"] for f in listed) == 200
    assert len(stored_blobs(small_quota)) == 1


async def test_a_tenant_over_a_lowered_quota_may_still_replace_a_file_with_a_smaller(
    small_quota: LiveApp,
) -> None:
    live = small_quota
    client = DriveClient(live, live.tenancy.member_a)
    share = await client.new_share()
    assert (await client.put(share, "a.bin", b"a" * QUOTA)).status_code == 201
    live.app.state.platform.settings.limits.drive_tenant_max_bytes = 100
    assert (await client.put(share, "a.bin", b"b" * 200)).status_code == 200
    assert_problem(await client.put(share, "a.bin", b"c" * 250), 413, "drive_quota_exceeded")


async def test_a_full_drive_refuses_an_upload_before_reading_it(small_quota: LiveApp) -> None:
    client = DriveClient(small_quota, small_quota.tenancy.member_a)
    share = await client.new_share()
    assert (await client.put(share, "full.bin", b"a" * QUOTA)).status_code == 201
    pulled = 0

    async def never_needed() -> AsyncIterator[bytes]:
        nonlocal pulled
        pulled += 1
        yield b"x"

    assert_problem(await client.put(share, "more.bin", never_needed()), 413, "drive_quota_exceeded")
    assert pulled == 0
