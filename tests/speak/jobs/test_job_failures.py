"""A job that fails ends failed, releases its hold and leaves no checkpoints; a job whose
worker keeps dying stops being retried; a save_to file lands with the success or not
at all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import ReservationState, UsageEntry
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import BackendUnavailable
from scaispeak.speak.jobs import finishing
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.queue import sweep_once
from scaispeak.speak.jobs.service import cancel_jobs_of_voice
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.support import (
    checkpoints_left,
    expire_lease_and_sweep,
    give_tenant_a_budget,
    hold_state,
    job_row,
    no_checkpoints_left,
)
from tests.speak.jobs.test_jobs_embedded import JOE, STORY, submit, wait_for
from tests.speak.jobs.test_save_to_and_webhooks import share_of
from tests.support.polling import until

FINAL = {"succeeded", "failed", "cancelled"}


async def test_a_failure_on_the_first_segment_fails_the_job_and_releases_its_hold(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    await give_tenant_a_budget(app)

    async def engine_down(*_a: Any, **_k: Any) -> Any:
        raise BackendUnavailable("the engine is down for this test")

    monkeypatch.setattr(app.app.state.speak.jobs.runtime.pipeline, "speak_segment", engine_down)
    job = (await submit(app)).json()
    done = await wait_for(app, job["id"], FINAL, seconds=30)
    assert done["state"] == "failed" and "engine is down for this test" in done["error"]
    assert await hold_state(app, job["id"]) is ReservationState.released


async def test_a_failure_whose_hold_cannot_be_released_is_not_recorded_half_done(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure and the hold's release commit together: a crash between the two
    leaves the job running (a successor fails it again), never failed with its budget
    held."""
    app = sqlite_app
    await give_tenant_a_budget(app)
    release = accounting.release
    crashed = asyncio.Event()

    async def engine_down(*_a: Any, **_k: Any) -> Any:
        raise BackendUnavailable("the engine is down for this test")

    async def crash_on_first_release(*args: Any, **kwargs: Any) -> None:
        if not crashed.is_set():
            crashed.set()
            raise ConnectionResetError("the database went away before the release")
        await release(*args, **kwargs)

    monkeypatch.setattr(app.app.state.speak.jobs.runtime.pipeline, "speak_segment", engine_down)
    monkeypatch.setattr(accounting, "release", crash_on_first_release)
    job = (await submit(app)).json()
    await asyncio.wait_for(crashed.wait(), 30)
    await asyncio.sleep(0.2)  # let the run unwind and its session close
    assert (await job_row(app, job["id"])).state is JobState.running
    assert await hold_state(app, job["id"]) is ReservationState.held
    await expire_lease_and_sweep(app, job["id"])
    done = await wait_for(app, job["id"], FINAL, seconds=30)
    assert done["state"] == "failed" and "engine is down for this test" in done["error"]
    assert await hold_state(app, job["id"]) is ReservationState.released


@pytest.mark.parametrize("asked_by", ["key", "browser_token"])
async def test_a_save_to_target_taken_while_the_job_ran_fails_it_and_keeps_that_file(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch, asked_by: str
) -> None:
    """A browser token's job asks for overwrite in vain: the job lands as its user,
    whose key may replace files, and a leaked token replaced what a colleague wrote
    there while it ran (helper-92)."""
    app = sqlite_app
    member = app.auth(app.tenancy.member_a)
    await give_tenant_a_budget(app)
    share = await share_of(app, app.tenancy.member_a)
    url = f"/v1/drive/shares/{share}/files/out/story.wav"
    assemble = finishing.assemble

    async def someone_writes_the_target_first(*args: Any, **kwargs: Any) -> Any:
        taken = await app.client.put(url, content=b"theirs", headers=member)
        assert taken.status_code == 201, taken.text
        return await assemble(*args, **kwargs)

    monkeypatch.setattr(finishing, "assemble", someone_writes_the_target_first)
    target = {"share_id": share, "path": "out/story.wav"}
    if asked_by == "key":
        job = (await submit(app, format="wav", save_to=target)).json()
    else:
        token = (await app.client.post("/v1/auth/tokens", json={}, headers=member)).json()
        body = {"text": STORY, "voice_id": JOE, "mode": "async"}
        asked = await app.client.post(
            "/v1/modules/scaispeak/speak",
            json={**body, "save_to": {**target, "overwrite": True}},
            params={"token": token["token"]},
        )
        job = asked.json()
    done = await wait_for(app, job["id"], FINAL, seconds=60)
    assert done["state"] == "failed" and "out/story.wav" in done["error"], done
    assert await hold_state(app, job["id"]) is ReservationState.released
    assert (await app.client.get(url, headers=member)).content == b"theirs"


async def test_a_job_whose_worker_keeps_dying_fails_after_max_attempts(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    await give_tenant_a_budget(app)
    runtime = app.app.state.speak.jobs.runtime
    limit = runtime.settings.max_attempts
    died = asyncio.Event()
    deaths = 0

    async def worker_is_killed(*_a: Any, **_k: Any) -> Any:
        nonlocal deaths
        deaths += 1
        died.set()
        raise asyncio.CancelledError  # the process dies mid-segment, holding the lease

    monkeypatch.setattr(runtime.pipeline, "speak_segment", worker_is_killed)
    job = (await submit(app)).json()
    for _ in range(limit):
        await asyncio.wait_for(died.wait(), 30)
        died.clear()
        await expire_lease_and_sweep(app, job["id"])
    done = await wait_for(app, job["id"], FINAL, seconds=30)
    assert done["state"] == "failed" and f"after {limit} attempts" in done["error"], done
    assert done["attempts"] == limit == deaths
    assert await hold_state(app, job["id"]) is ReservationState.released
    assert job["id"] not in await sweep_once(app.app.state.platform.db, app.app.state.speak.jobs)


async def test_a_run_that_dies_while_saving_leaves_the_share_as_it_was(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file lands with the job's success, so a run that dies between the two leaves
    nothing in the share; its retry saves the file once and charges once."""
    app = sqlite_app
    member = app.auth(app.tenancy.member_a)
    share = await share_of(app, app.tenancy.member_a)
    succeed = finishing._succeed_and_charge
    crashed = asyncio.Event()

    async def die_once_before_succeeding(*args: Any, **kwargs: Any) -> Any:
        if not crashed.is_set():
            crashed.set()
            raise asyncio.CancelledError  # the file is staged; the job is not done
        return await succeed(*args, **kwargs)

    monkeypatch.setattr(finishing, "_succeed_and_charge", die_once_before_succeeding)
    files = f"/v1/drive/shares/{share}/files"
    target = {"share_id": share, "path": "out/story.wav"}
    job = (await submit(app, format="wav", save_to=target)).json()
    await asyncio.wait_for(crashed.wait(), 120)
    assert (await app.client.get(files, headers=member)).json()["items"] == []
    await expire_lease_and_sweep(app, job["id"])
    done = await wait_for(app, job["id"], FINAL)
    assert done["state"] == "succeeded" and done["attempts"] == 2, done
    assert done["saved_file"]["path"] == "out/story.wav"
    listed = (await app.client.get(files, headers=member)).json()
    assert [f["path"] for f in listed["items"]] == ["out/story.wav"]
    stored = await app.client.get(f"{files}/out/story.wav", headers=member)
    audio = await app.client.get(done["audio_url"], headers=member)
    assert stored.content == audio.content and done["saved_file"]["size"] == len(audio.content)
    async with app.app.state.platform.db.sessions() as session:
        lines = select(func.count()).where(UsageEntry.request_id == job["id"])
        assert (await session.execute(lines)).scalar_one() == 1


@pytest.mark.postgres
async def test_a_cancel_that_lands_while_the_job_saves_leaves_the_old_file(
    tmp_path: Path, postgres_url: str, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the cancel commits between the file's write and the job's success
    (SQLite's one writer cannot interleave them). The cancelled job must not have
    replaced the file it was told to overwrite, nor be charged."""
    async with started_app(make_settings(tmp_path, postgres_url), engines) as app:
        member = app.auth(app.tenancy.member_a)
        share = await share_of(app, app.tenancy.member_a)
        original = f"/v1/drive/shares/{share}/files/report.wav"
        assert (await app.client.put(original, content=b"ORIGINAL", headers=member)).is_success
        succeed = finishing._succeed_and_charge
        job_id: list[str] = []

        async def cancel_first(*args: Any, **kwargs: Any) -> Any:
            cancel = f"/v1/modules/scaispeak/jobs/{job_id[0]}"
            assert (await app.client.delete(cancel, headers=member)).status_code == 200
            return await succeed(*args, **kwargs)

        monkeypatch.setattr(finishing, "_succeed_and_charge", cancel_first)
        target = {"share_id": share, "path": "report.wav", "overwrite": True}
        job_id.append((await submit(app, format="wav", save_to=target)).json()["id"])
        done = await wait_for(app, job_id[0], FINAL)
        assert done["state"] == "cancelled" and done["saved_file"] is None, done
        assert (await app.client.get(original, headers=member)).content == b"ORIGINAL"
        async with app.app.state.platform.db.sessions() as session:
            lines = select(func.count()).where(UsageEntry.request_id == job_id[0])
            assert (await session.execute(lines)).scalar_one() == 0


async def test_a_failed_job_leaves_no_checkpoints(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    pipeline = app.app.state.speak.jobs.runtime.pipeline
    speak_segment = pipeline.speak_segment

    async def fails_on_the_second_segment(index: int, *args: Any, **kwargs: Any) -> Any:
        if index >= 1:
            raise BackendUnavailable("the engine went down after one segment")
        return await speak_segment(index, *args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", fails_on_the_second_segment)
    job = (await submit(app)).json()
    done = await wait_for(app, job["id"], FINAL, seconds=60)
    assert done["state"] == "failed" and done["progress"]["segments_done"] == 1, done
    # The failure is committed first, then its checkpoints are deleted: wait for that.
    await until(lambda: no_checkpoints_left(app, job["id"], 3), "the checkpoints' deletion")
    assert await checkpoints_left(app, job["id"], 3) == []


async def test_a_cancelled_job_leaves_no_checkpoints(sqlite_app: LiveApp) -> None:
    app = sqlite_app
    job = (await submit(app, text=STORY * 6)).json()
    segments = job["progress"]["segments_total"]
    running = await _wait_for_progress(app, job["id"], segments_done=2)
    assert running["state"] == "running", running
    cancelled = await app.client.delete(
        f"/v1/modules/scaispeak/jobs/{job['id']}", headers=app.auth(app.tenancy.member_a)
    )
    assert cancelled.json()["state"] == "cancelled"
    # The worker may store the segment it was speaking before it notices; it deletes
    # that one itself once its checkpoint fails.
    await until(lambda: no_checkpoints_left(app, job["id"], segments), "the last deletion")
    assert await checkpoints_left(app, job["id"], segments) == []


async def _wait_for_progress(app: LiveApp, job_id: str, *, segments_done: int) -> Any:
    for _ in range(600):
        job = (
            await app.client.get(
                f"/v1/modules/scaispeak/jobs/{job_id}", headers=app.auth(app.tenancy.member_a)
            )
        ).json()
        if job["progress"]["segments_done"] >= segments_done or job["state"] in FINAL:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} made no progress")


async def test_revoking_a_voice_deletes_the_checkpoints_of_its_jobs(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    gate = asyncio.Event()
    pipeline = app.app.state.speak.jobs.runtime.pipeline
    speak_segment = pipeline.speak_segment

    async def stalls_after_one_segment(index: int, *args: Any, **kwargs: Any) -> Any:
        if index >= 1:  # the worker is stuck (or dead): only the revocation can clean up
            await gate.wait()
        return await speak_segment(index, *args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", stalls_after_one_segment)
    job = (await submit(app, text=STORY * 2)).json()
    try:
        await _wait_for_progress(app, job["id"], segments_done=1)
        assert await checkpoints_left(app, job["id"], 6) == [0]
        platform = app.app.state.platform
        cancelled = await cancel_jobs_of_voice(platform.db, JOE, platform.storage)
        assert job["id"] in cancelled
        assert await checkpoints_left(app, job["id"], 6) == []
        # Not marked swept by the cancel: the stuck worker may still store a segment.
        assert (await job_row(app, job["id"])).blobs_swept_at is None
        gate.set()
        # The worker stores it, finds its lease gone, deletes it, and marks the job.
        await until(lambda: _swept(app, job["id"]), "the worker to sweep its job", seconds=30)
        assert await checkpoints_left(app, job["id"], 6) == []
    finally:
        gate.set()


async def _swept(app: LiveApp, job_id: str) -> bool:
    return (await job_row(app, job_id)).blobs_swept_at is not None


async def test_revoking_a_voice_leaves_a_job_that_finished_meanwhile_alone(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The revocation reads the voice's active jobs, then the job finishes, then the
    revocation writes: the finished job must keep its outcome."""
    app = sqlite_app
    gate = asyncio.Event()

    async def held(*_a: Any, **_k: Any) -> Any:
        await gate.wait()
        raise BackendUnavailable("released at the end of the test")

    monkeypatch.setattr(app.app.state.speak.jobs.runtime.pipeline, "speak_segment", held)
    job = (await submit(app)).json()
    engine = app.app.state.platform.db.engine.sync_engine
    finished = False

    def job_finishes_right_after_the_read(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal finished
        if not finished and "synth_jobs.voice_id = " in statement:
            finished = True
            conn.execute(
                update(SynthJob)
                .where(SynthJob.id == job["id"])
                .values(state=JobState.succeeded, lease_owner=None)
            )

    event.listen(engine, "after_cursor_execute", job_finishes_right_after_the_read)
    try:
        await wait_for(app, job["id"], {"running"}, seconds=30)
        cancelled = await cancel_jobs_of_voice(app.app.state.platform.db, JOE)
    finally:
        event.remove(engine, "after_cursor_execute", job_finishes_right_after_the_read)
        gate.set()
    assert finished and job["id"] not in cancelled
    row = await job_row(app, job["id"])
    assert row.state is JobState.succeeded and row.error == ""


async def test_checkpoints_that_cannot_be_deleted_after_a_success_are_only_logged(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The success has committed by then: a storage outage deleting its checkpoints was
    handled as the job's own ("left for a retry"), and any other error as a failure
    that had lost its job ("stopped, cancelled or taken over")."""
    app = sqlite_app
    storage = app.app.state.speak.jobs.runtime.storage
    delete = storage.delete

    async def outage_for_checkpoints(key: str) -> None:
        if "/segments/" in key:
            raise StorageUnavailable("storage is down")
        await delete(key)

    monkeypatch.setattr(storage, "delete", outage_for_checkpoints)
    job = (await submit(app)).json()
    done = await wait_for(app, job["id"], FINAL)
    assert done["state"] == "succeeded"
    messages = [record.getMessage() for record in caplog.records]
    assert any("could not delete blob" in m and "/segments/" in m for m in messages)
    assert not any("left for a retry" in m or "stopped (cancelled" in m for m in messages)
