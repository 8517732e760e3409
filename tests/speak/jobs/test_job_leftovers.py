"""Blobs an ended job should no longer have are deleted for certain: a store failing
when the job ended (its checkpoints) or when its retention ended (its audio) leaves
them to the leftover sweep, which deletes them once the store answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from scaispeak.platform.db import utcnow
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.jobs import leftovers, retention
from scaispeak.speak.jobs.models import SynthJob
from tests.conftest import LiveApp
from tests.speak.jobs.support import checkpoints_left, job_row
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.support.polling import until

FINAL = {"succeeded", "failed", "cancelled"}


def store_down_for(app: LiveApp, monkeypatch: pytest.MonkeyPatch, part: str) -> None:
    """Deleting keys that contain ``part`` fails, as during a storage outage."""
    storage = app.app.state.platform.storage
    delete = storage.delete

    async def outage(key: str) -> None:
        if part in key:
            raise StorageUnavailable("storage is down")
        await delete(key)

    monkeypatch.setattr(storage, "delete", outage)


async def sweep_now(app: LiveApp) -> list[str]:
    """A sweep without the grace (the app's own sweeps keep it, so they stay out)."""
    db = app.app.state.platform.db
    return await leftovers.sweep(db, app.app.state.platform.storage, grace_s=0)


async def test_checkpoints_left_by_a_storage_outage_are_swept_later(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    store_down_for(app, monkeypatch, "/segments/")
    job = await wait_for(app, (await submit(app)).json()["id"], FINAL)
    assert job["state"] == "succeeded"
    segments = (await job_row(app, job["id"])).segments_total
    assert await checkpoints_left(app, job["id"], segments)
    assert (await job_row(app, job["id"])).blobs_swept_at is None
    assert await sweep_now(app) == []  # the store is still down
    monkeypatch.undo()  # the store is back
    assert await sweep_now(app) == [job["id"]]
    assert await checkpoints_left(app, job["id"], segments) == []
    row = await job_row(app, job["id"])
    assert row.blobs_swept_at is not None
    assert row.result_key and await app.app.state.platform.storage.exists(row.result_key)
    assert await sweep_now(app) == []  # nothing left to do


async def test_a_job_whose_deletions_went_through_is_not_swept_again(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await wait_for(sqlite_app, (await submit(sqlite_app)).json()["id"], FINAL)

    async def marked_swept() -> bool:
        # Its worker deletes the checkpoints after the success commits, then marks it.
        return (await job_row(sqlite_app, job["id"])).blobs_swept_at is not None

    await until(marked_swept, "the job's deletions marked done", seconds=30)
    assert job["id"] not in await sweep_now(sqlite_app)


async def test_audio_whose_retention_deletion_failed_is_swept_later(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    job = await wait_for(app, (await submit(app)).json()["id"], FINAL)
    key = (await job_row(app, job["id"])).result_key
    assert key is not None
    db, storage = app.app.state.platform.db, app.app.state.platform.storage
    async with db.sessions() as session:
        long_ago = utcnow() - timedelta(days=30)
        await session.execute(
            update(SynthJob).where(SynthJob.id == job["id"]).values(finished_at=long_ago)
        )
        await session.commit()
    store_down_for(app, monkeypatch, "/audio.")
    # The outage does not stop the sweep: the job's audio is gone for its caller.
    assert await retention.expire_results(db, storage, ttl_s=60) == [job["id"]]
    assert await storage.exists(key)
    monkeypatch.undo()
    assert await sweep_now(app) == [job["id"]]
    assert not await storage.exists(key)
