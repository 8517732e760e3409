"""save_to is checked before any work and lands whole; webhooks are signed; resume works."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
import soundfile
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import (
    Reservation,
    ReservationState,
    SpendCounter,
    UsageEntry,
)
from scaispeak.platform.accounting.sweeper import release_stale
from scaispeak.platform.db import utcnow
from scaispeak.speak.jobs import lease
from scaispeak.speak.jobs.assembly import segment_key
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.queue import sweep_once
from scaispeak.speak.jobs.webhooks import verify
from scaispeak.speak.synthesis.text import split_segments
from scaispeak.speak.transports import http
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.support import secret_of
from tests.speak.jobs.test_jobs_embedded import STORY, submit, wait_for

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"


async def share_of(app: LiveApp, owner_key: str, reader_user: str | None = None) -> str:
    share = await app.client.post(
        "/v1/drive/shares", json={"name": "out"}, headers=app.auth(owner_key)
    )
    assert share.status_code == 201, share.text
    share_id: str = share.json()["id"]
    if reader_user:
        await app.client.put(
            f"/v1/drive/shares/{share_id}/members/{reader_user}",
            json={"role": "read"},
            headers=app.auth(owner_key),
        )
    return share_id


async def budgeted_share(live: LiveApp) -> str:
    """Member A's new share, in a tenant with a budget (so holds are stored)."""
    t = live.tenancy
    budget = {"period": "month", "limit_micros": 10_000_000}
    made = await live.client.put(
        f"/v1/tenants/{t.tenant_a}/budget", json=budget, headers=live.auth(t.superadmin)
    )
    assert made.status_code == 200, made.text
    return await share_of(live, t.member_a)


async def job_count(app: LiveApp) -> int:
    async with app.app.state.platform.db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(SynthJob))).scalar_one())


async def test_save_to_without_write_permission_is_refused_before_any_work(
    live: LiveApp,
) -> None:
    t = live.tenancy
    share = await share_of(live, t.admin_a, reader_user=t.member_a_user)
    before = await job_count(live)
    target = {"share_id": share, "path": "out/story.mp3"}
    refused = await submit(live, save_to=target)
    assert_problem(refused, 403, "forbidden")
    inline = await live.client.post(
        SPEAK,
        json={"text": "Short.", "voice_id": JOE, "save_to": target},
        headers=live.auth(t.member_a),
    )
    assert_problem(inline, 403, "forbidden")
    foreign = await share_of(live, t.member_b)
    other = await submit(live, save_to={"share_id": foreign, "path": "x.mp3"})
    assert_problem(other, 404, "unknown_share")
    assert await job_count(live) == before


async def test_job_saves_into_the_share(live: LiveApp) -> None:
    t = live.tenancy
    share = await share_of(live, t.member_a)
    job = (
        await submit(live, format="wav", save_to={"share_id": share, "path": "a/story.wav"})
    ).json()
    done = await wait_for(live, job["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    saved = done["saved_file"]
    assert saved["path"] == "a/story.wav" and saved["size"] == done["audio_bytes"]
    stored = await live.client.get(
        f"/v1{saved['url'].removeprefix('/v1')}", headers=live.auth(t.member_a)
    )
    assert stored.status_code == 200
    pcm, rate = soundfile.read(io.BytesIO(stored.content))
    assert len(pcm) / rate == pytest.approx(done["audio_seconds"], abs=0.05)


async def test_inline_speak_saves_and_answers_with_the_file(live: LiveApp) -> None:
    t = live.tenancy
    share = await share_of(live, t.member_a)
    response = await live.client.post(
        SPEAK,
        json={
            "text": "Saved inline.",
            "voice_id": JOE,
            "format": "mp3",
            "save_to": {"share_id": share, "path": "inline.mp3"},
        },
        headers=live.auth(t.member_a),
    )
    assert response.status_code == 201, response.text
    file = response.json()["file"]
    assert file["path"] == "inline.mp3" and file["content_type"] == "audio/mpeg"
    assert int(response.headers["x-scaispeak-characters"]) == len("Saved inline.")
    assert response.headers["location"] == file["url"]
    target = {"share_id": share, "path": "inline.mp3"}
    body = {"text": "Saved inline.", "voice_id": JOE, "save_to": target}
    again = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert again.status_code == 409  # exists and overwrite is false
    target["overwrite"] = True
    replaced = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert replaced.status_code == 200, replaced.text  # as the drive's own upload answers
    assert replaced.json()["file"]["replaced"] is True


async def test_inline_save_to_that_cannot_be_written_is_not_charged(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer takes the path between the check and the write: 409, and the
    caller pays nothing (the clip was made, but nobody got it)."""
    t = live.tenancy
    share = await budgeted_share(live)
    platform = live.app.state.platform
    real_stage = http.drive.staged_write

    @asynccontextmanager
    async def stage_after_a_rival(
        session: Any, storage: Any, caller: Any, *args: Any, **kw: Any
    ) -> AsyncIterator[Any]:
        async with platform.db.sessions() as rival:
            taken = real_stage(
                rival, storage, caller, share, "taken.wav", b"RIFF", "audio/wav", overwrite=False
            )
            async with taken:
                await rival.commit()
        async with real_stage(session, storage, caller, *args, **kw) as ref:
            yield ref

    monkeypatch.setattr(http.drive, "staged_write", stage_after_a_rival)
    body = {
        "text": "Nobody will hear this.",
        "voice_id": JOE,
        "format": "wav",
        "save_to": {"share_id": share, "path": "taken.wav"},
    }
    response = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert_problem(response, 409, "file_exists")
    tenant = t.tenant_a
    async with platform.db.sessions() as session:
        lines = await session.scalar(
            select(func.count()).select_from(UsageEntry).where(UsageEntry.tenant_id == tenant)
        )
        holds = await session.scalars(
            select(Reservation.state).where(Reservation.tenant_id == tenant)
        )
        counted = await session.scalars(
            select(SpendCounter).where(SpendCounter.tenant_id == tenant)
        )
        holds, counted = holds.all(), counted.all()
    assert lines == 0
    assert holds and all(state == ReservationState.released for state in holds)
    assert all(c.reserved_micros == 0 and c.spent_micros == 0 for c in counted)


async def test_an_inline_save_whose_charge_fails_leaves_no_file(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file lands in the commit that charges it: a settlement that fails (the
    database locked) answers 503 and leaves the path free, so a retry saves it."""
    t = live.tenancy
    share = await share_of(live, t.member_a)

    async def refused(*args: Any, **kw: Any) -> Any:
        raise OperationalError("UPDATE spend_counters", {}, Exception("database is locked"))

    body = {
        "text": "Charged or not saved.",
        "voice_id": JOE,
        "format": "wav",
        "save_to": {"share_id": share, "path": "charged.wav"},
    }
    with monkeypatch.context() as patch:
        patch.setattr(accounting, "settle", refused)
        failed = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert failed.status_code == 503, failed.text
    listing = await live.client.get(
        f"/v1/drive/shares/{share}/files", headers=live.auth(t.member_a)
    )
    assert listing.json()["items"] == []
    retried = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert retried.status_code == 201, retried.text


async def test_an_inline_save_whose_hold_was_swept_meanwhile_is_saved_and_charged(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stale-hold sweep gave the hold back while the request ran (a lowered
    STALE_RESERVATION_S, a replica's clock): the charge went through, the file was
    rolled back with the settlement's transaction, and the caller got a 500."""
    t = live.tenancy
    share = await budgeted_share(live)
    platform = live.app.state.platform
    real_stage = http.drive.staged_write

    @asynccontextmanager
    async def swept_first(*args: Any, **kw: Any) -> AsyncIterator[Any]:
        async with platform.db.sessions() as sweeper:
            # Every hold held now: ours, and on the shared PostgreSQL others' leftovers.
            assert await release_stale(sweeper, timedelta(seconds=-60)) >= 1
        async with real_stage(*args, **kw) as ref:
            yield ref

    monkeypatch.setattr(http.drive, "staged_write", swept_first)
    body = {
        "text": "Swept, saved and paid for.",
        "voice_id": JOE,
        "format": "wav",
        "save_to": {"share_id": share, "path": "swept.wav"},
    }
    response = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert response.status_code == 201, response.text
    got = await live.client.get(response.json()["file"]["url"], headers=live.auth(t.member_a))
    assert got.status_code == 200 and got.content.startswith(b"RIFF")
    async with platform.db.sessions() as session:
        lines = (
            await session.scalars(select(UsageEntry).where(UsageEntry.tenant_id == t.tenant_a))
        ).all()
    assert len(lines) == 1, [(x.request_id, x.kind, x.characters, x.reservation_id) for x in lines]


async def test_a_saved_raw_pcm_file_names_its_rate_and_save_to_refuses_unknown_fields(
    live: LiveApp,
) -> None:
    t = live.tenancy
    share = await share_of(live, t.member_a)
    body: dict[str, Any] = {
        "text": "Raw samples.",
        "voice_id": JOE,
        "format": "pcm",
        "sample_rate": 16000,
        "save_to": {"share_id": share, "path": "raw.pcm"},
    }
    saved = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert saved.status_code == 201, saved.text
    # Without its rate, whoever downloads the file later cannot play it.
    assert saved.json()["file"]["content_type"] == "audio/pcm;rate=16000"
    body["save_to"] = {"share_id": share, "path": "raw.pcm", "overwite": True}
    typo = await live.client.post(SPEAK, json=body, headers=live.auth(t.member_a))
    assert_problem(typo, 422, "validation_error")
    assert "overwite" in typo.text


async def test_a_webhook_makes_short_text_a_job_and_is_refused_inline(
    loopback_hooks_app: LiveApp, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    """Short text with a webhook_url was answered inline, and the callback never came."""
    app = loopback_hooks_app
    url, received = receiver
    body = {"text": "Short.", "voice_id": JOE, "webhook_url": url}
    headers = app.auth(app.tenancy.member_a)
    queued = await app.client.post(SPEAK, json=body, headers=headers)
    assert queued.status_code == 202, queued.text
    await wait_for(app, queued.json()["id"], {"succeeded"})
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.1)
    assert json.loads(received[0][0])["event"] == "job.succeeded"
    inline = await app.client.post(SPEAK, json={**body, "mode": "inline"}, headers=headers)
    assert_problem(inline, 422, "validation_error")


async def test_webhook_is_signed_with_the_submitters_own_secret(
    loopback_hooks_app: LiveApp, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    """Per user: with one secret per tenant, any member could forge a colleague's events."""
    app = loopback_hooks_app
    url, received = receiver
    job = (await submit(app, webhook_url=url)).json()
    await wait_for(app, job["id"], {"succeeded"})
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.1)
    body, signature = received[0]
    assert verify(await secret_of(app, app.tenancy.member_a), body, signature)
    assert not verify(await secret_of(app, app.tenancy.admin_a), body, signature)
    event: dict[str, Any] = json.loads(body)
    assert event["event"] == "job.succeeded" and event["job"]["id"] == job["id"]


async def crash_after_two_segments(app: LiveApp, text: str) -> str:
    """Submit ``text``; its run "dies" holding the lease after its second checkpoint,
    and the lease then runs out. Returns the job id."""
    original = lease.checkpoint
    crashed = asyncio.Event()

    async def crash_after_two(session: Any, job_id: str, *args: Any) -> bool:
        ours = await original(session, job_id, *args)
        if args[-1].segments_done == 2 and not crashed.is_set():
            crashed.set()
            raise asyncio.CancelledError  # the process "dies" holding the lease
        return ours

    lease.checkpoint = crash_after_two  # type: ignore[assignment]
    try:
        job = (await submit(app, text=text)).json()
        await asyncio.wait_for(crashed.wait(), 60)
    finally:
        lease.checkpoint = original  # type: ignore[assignment]
    async with app.app.state.platform.db.sessions() as session:
        row = await session.get(SynthJob, job["id"])
        assert row is not None and row.state.value == "running" and row.segments_done == 2
        # The dead worker's lease ran out, some time after the job was last queued.
        row.lease_until = utcnow() - timedelta(seconds=1)
        row.last_kick_at = row.lease_until - timedelta(seconds=30)
        await session.commit()
    return str(job["id"])


async def test_a_crashed_run_resumes_from_its_last_checkpoint(sqlite_app: LiveApp) -> None:
    """Kill a run after its second checkpoint; the next run skips finished segments."""
    queue = sqlite_app.app.state.speak.jobs
    job_id = await crash_after_two_segments(sqlite_app, STORY * 2)  # six segments
    assert job_id in await sweep_once(queue.runtime.db, queue)
    done = await wait_for(sqlite_app, job_id, {"succeeded", "failed"})
    assert done["state"] == "succeeded" and done["attempts"] == 2


async def test_a_run_that_splits_the_text_differently_starts_the_job_over(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy between two runs changed how text is split: the checkpoints of the old
    split do not count in the new one (they were joined, and text went unspoken)."""
    queue = sqlite_app.app.state.speak.jobs
    text = STORY * 2
    job_id = await crash_after_two_segments(sqlite_app, text)
    finer = split_segments(text, max_chars=30)
    assert len(finer) > 6
    monkeypatch.setattr(queue.runtime.pipeline, "plan", lambda t: split_segments(t, max_chars=30))
    assert job_id in await sweep_once(queue.runtime.db, queue)
    done = await wait_for(sqlite_app, job_id, {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    progress = done["progress"]
    assert progress["segments_done"] == progress["segments_total"] == len(finer)
    assert progress["characters_done"] == len(text)


async def test_a_re_split_job_that_then_fails_leaves_no_checkpoint_behind(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure's cleanup counts the checkpoints of the new split, not of the split
    the run was claimed with (six, where nine were written)."""
    queue = sqlite_app.app.state.speak.jobs
    pipeline = queue.runtime.pipeline
    text = STORY * 2
    job_id = await crash_after_two_segments(sqlite_app, text)
    finer = split_segments(text, max_chars=30)
    assert len(finer) > 10
    monkeypatch.setattr(pipeline, "plan", lambda t: split_segments(t, max_chars=30))
    speak = pipeline.speak_segment

    async def fail_at_ninth(index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 9:
            raise RuntimeError("the engine broke")
        return await speak(index, *args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", fail_at_ninth)
    assert job_id in await sweep_once(queue.runtime.db, queue)
    done = await wait_for(sqlite_app, job_id, {"succeeded", "failed"})
    assert done["state"] == "failed" and done["progress"]["segments_done"] == 9, done
    storage = sqlite_app.app.state.platform.storage
    left = [i for i in range(len(finer)) if await storage.exists(segment_key(job_id, i))]
    assert left == []


async def test_a_retried_save_to_job_is_its_earlier_job_once_the_file_exists(
    live: LiveApp,
) -> None:
    """The retry of a submit whose 202 was lost: its file now exists, which concerns a
    new job, not this one (it was answered 409 file_exists)."""
    share = await share_of(live, live.tenancy.member_a)
    target = {"share_id": share, "path": "retried/story.wav"}
    first = await submit(live, key="lost-202", format="wav", save_to=target)
    assert first.status_code == 202, first.text
    done = await wait_for(live, first.json()["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    again = await submit(live, key="lost-202", format="wav", save_to=target)
    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == done["id"] and again.json()["state"] == "succeeded"
    other = await submit(live, key="lost-202", format="mp3", save_to=target)
    assert_problem(other, 409, "idempotency_key_reused")
