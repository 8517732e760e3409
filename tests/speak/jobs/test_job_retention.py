"""A succeeded job's audio is deleted after SCAISPEAK_JOBS__RESULT_TTL_S; its record
stays, and asking for the audio is 410."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from scaispeak.platform.db import utcnow
from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.retention import expire_results, forget_texts
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.support import job_row
from tests.speak.jobs.test_jobs_embedded import submit, wait_for

TTL_S = 3600


async def update_job(app: LiveApp, job_id: str, **values: Any) -> None:
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(update(SynthJob).filter_by(id=job_id).values(**values))
        await session.commit()


async def finished_ago(app: LiveApp, job_id: str, seconds: float) -> None:
    await update_job(app, job_id, finished_at=utcnow() - timedelta(seconds=seconds))


async def test_audio_past_its_retention_is_deleted_and_410(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    settings = make_settings(tmp_path, jobs=JobSettings(result_ttl_s=TTL_S))
    async with started_app(settings, engines) as app:
        member = app.auth(app.tenancy.member_a)
        old, recent = [(await submit(app, text="Kept a while.")).json()["id"] for _ in range(2)]
        for job_id in (old, recent):
            await wait_for(app, job_id, {"succeeded"})
        await finished_ago(app, old, TTL_S + 60)
        await finished_ago(app, recent, TTL_S - 60)
        key = (await job_row(app, old)).result_key
        storage, db = app.app.state.platform.storage, app.app.state.platform.db
        assert key is not None and await storage.exists(key)
        assert await expire_results(db, storage, TTL_S) == [old]
        assert not await storage.exists(key)
        audio = await app.client.get(f"/v1/modules/scaispeak/jobs/{old}/audio", headers=member)
        assert_problem(audio, 410, "audio_expired")
        job = (await app.client.get(f"/v1/modules/scaispeak/jobs/{old}", headers=member)).json()
        assert job["state"] == "succeeded" and job["audio_expired"] is True
        assert job["audio_url"] is None
        kept = await app.client.get(f"/v1/modules/scaispeak/jobs/{recent}/audio", headers=member)
        assert kept.status_code == 200
        assert await expire_results(db, storage, 0) == []  # 0 keeps everything


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of this test's own: on the suite's shared PostgreSQL database, which
    holds other tests' leftover jobs for the app's job sweep, one CI run spent 116 s in
    this test, which alone takes about a second."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    url: str = request.getfixturevalue("own_postgres_url")
    return url


async def test_an_ended_jobs_text_and_webhook_path_go_with_its_retention(
    tmp_path: Path, own_database_url: str, engines: EngineRegistry
) -> None:
    """A job's text (up to 500,000 characters of a caller's words) and its webhook URL,
    with a receiver's secret in its path, were kept for good after the audio went."""
    settings = make_settings(tmp_path, own_database_url, jobs=JobSettings(result_ttl_s=TTL_S))
    async with started_app(settings, engines) as app:
        old, recent = [(await submit(app, text="Private words.")).json()["id"] for _ in range(2)]
        for job_id in (old, recent):
            await wait_for(app, job_id, {"succeeded"})
        hook = "https://hooks.example/services/T000/B000/PATHSECRET"
        await update_job(app, old, webhook_url=hook)
        await finished_ago(app, old, TTL_S + 60)
        await finished_ago(app, recent, TTL_S - 60)
        db = app.app.state.platform.db
        assert await forget_texts(db, TTL_S) == 1
        forgotten, kept = await job_row(app, old), await job_row(app, recent)
        assert forgotten.text == "" and forgotten.webhook_url == "https://hooks.example/…"
        assert kept.text == "Private words."
        assert await forget_texts(db, TTL_S) == 0  # done once
        member = app.auth(app.tenancy.member_a)
        listed = await app.client.get(f"/v1/modules/scaispeak/jobs/{old}", headers=member)
        assert listed.json()["state"] == "succeeded"


async def test_audio_deleted_while_its_request_runs_is_410_not_500(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep (the row first, then the blob) runs between the request reading the
    job and opening its audio."""
    job_id = (await submit(sqlite_app, text="Deleted under me.")).json()["id"]
    await wait_for(sqlite_app, job_id, {"succeeded"})
    storage = sqlite_app.app.state.platform.storage
    stream = storage.stream

    async def swept_first(key: str, *args: Any) -> Any:
        async with sqlite_app.app.state.platform.db.sessions() as session:
            clear = update(SynthJob).filter_by(id=job_id).values(result_key=None)
            await session.execute(clear)
            await session.commit()
        await storage.delete(key)
        async for chunk in stream(key, *args):
            yield chunk

    monkeypatch.setattr(storage, "stream", swept_first)
    member = sqlite_app.auth(sqlite_app.tenancy.member_a)
    audio = await sqlite_app.client.get(
        f"/v1/modules/scaispeak/jobs/{job_id}/audio", headers=member
    )
    assert_problem(audio, 410, "audio_expired")


async def test_audio_missing_from_storage_within_its_retention_is_not_called_expired(
    sqlite_app: LiveApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that stored it where this API cannot read (storage of its own): the
    caller was told it had expired, seconds after the job finished."""
    job_id = (await submit(sqlite_app, text="Stored elsewhere.")).json()["id"]
    await wait_for(sqlite_app, job_id, {"succeeded"})
    key = (await job_row(sqlite_app, job_id)).result_key
    assert key is not None
    await sqlite_app.app.state.platform.storage.delete(key)  # the row still names it
    member = sqlite_app.auth(sqlite_app.tenancy.member_a)
    audio = await sqlite_app.client.get(
        f"/v1/modules/scaispeak/jobs/{job_id}/audio", headers=member
    )
    assert_problem(audio, 500, "audio_missing")
    assert "is not in storage" in caplog.text


async def test_a_finished_jobs_audio_and_text_can_be_deleted_before_its_retention(
    sqlite_app: LiveApp,
) -> None:
    """Nobody could erase a job's audio sooner, its speaker included after a revocation
    (helper-79): DELETE on a finished job only answered it unchanged."""
    app = sqlite_app
    member, other = app.auth(app.tenancy.member_a), app.auth(app.tenancy.member_b)
    job_id = (await submit(app, text="Erase me soon.")).json()["id"]
    url = f"/v1/modules/scaispeak/jobs/{job_id}/audio"
    await wait_for(app, job_id, {"succeeded"})
    key = (await job_row(app, job_id)).result_key
    storage = app.app.state.platform.storage
    assert key is not None and await storage.exists(key)
    assert_problem(await app.client.delete(url, headers=other), 404, "not_found")
    erased = await app.client.delete(url, headers=member)
    assert erased.status_code == 200 and erased.json()["audio_expired"] is True
    assert not await storage.exists(key)
    assert (await job_row(app, job_id)).text == ""
    assert_problem(await app.client.get(url, headers=member), 410, "audio_expired")
    again = await app.client.delete(url, headers=member)
    assert again.status_code == 200  # already gone: nothing to do


async def test_deleting_a_failed_jobs_audio_forgets_its_text_and_webhook_path(
    sqlite_app: LiveApp,
) -> None:
    """It answered 200 and kept the text of a job that had no audio (helper-80)."""
    app = sqlite_app
    job_id = (await submit(app, text="My private failed words.")).json()["id"]
    await wait_for(app, job_id, {"succeeded"})
    hook = "https://hooks.example/services/T000/B000/PATHSECRET"
    await update_job(app, job_id, state=JobState.failed, result_key=None, webhook_url=hook)
    url = f"/v1/modules/scaispeak/jobs/{job_id}/audio"
    erased = await app.client.delete(url, headers=app.auth(app.tenancy.member_a))
    assert erased.status_code == 200
    row = await job_row(app, job_id)
    assert row.text == "" and row.webhook_url == "https://hooks.example/…"


async def test_a_pending_webhook_keeps_its_url_until_its_event_is_settled(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    settings = make_settings(tmp_path, jobs=JobSettings(result_ttl_s=TTL_S))
    async with started_app(settings, engines) as app:
        job_id = (await submit(app, text="Words.")).json()["id"]
        await wait_for(app, job_id, {"succeeded"})
        hook = "https://hooks.example/services/T000/B000/PATHSECRET"
        await update_job(
            app, job_id, webhook_url=hook, webhook_due_at=utcnow() + timedelta(hours=1)
        )
        await finished_ago(app, job_id, TTL_S + 60)
        assert await forget_texts(app.app.state.platform.db, TTL_S) == 1
        row = await job_row(app, job_id)
    assert row.text == "" and row.webhook_url == hook  # the outbox still needs it


async def test_a_running_jobs_audio_cannot_be_deleted(sqlite_app: LiveApp) -> None:
    app = sqlite_app
    job_id = (await submit(app, text="Still at work.")).json()["id"]
    await wait_for(app, job_id, {"succeeded"})
    await update_job(app, job_id, state=JobState.running)  # as if still at work
    url = f"/v1/modules/scaispeak/jobs/{job_id}/audio"
    refused = await app.client.delete(url, headers=app.auth(app.tenancy.member_a))
    assert_problem(refused, 409, "job_not_finished")
    assert (await job_row(app, job_id)).result_key is not None
