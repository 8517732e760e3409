"""Async synth jobs in embedded mode (in-process queue), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import numpy as np
import pytest
import soundfile
from sqlalchemy import func, select

from scaispeak.platform.accounting.models import UsageEntry
from scaispeak.speak.jobs.models import SynthJob
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.support.asr import transcribe, word_error_rate

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"
STORY = (
    "The lighthouse keeper climbed the stairs at dusk. "
    "He lit the lamp and watched the ships pass in the dark. "
    "In the morning he wrote everything down in a small blue book."
)


async def submit(app: LiveApp, text: str = STORY, key: str | None = None, **extra: Any) -> Any:
    headers = app.auth(app.tenancy.member_a) | ({"Idempotency-Key": key} if key else {})
    body = {"text": text, "voice_id": JOE, "mode": "async", **extra}
    return await app.client.post(SPEAK, json=body, headers=headers)


async def wait_for(
    app: LiveApp, job_id: str, states: set[str], seconds: float = 120, *, key: str | None = None
) -> Any:
    """Poll the job as ``key`` (member A's by default) until it is in one of ``states``."""
    deadline = asyncio.get_running_loop().time() + seconds
    headers = app.auth(key or app.tenancy.member_a)
    while True:
        job = (await app.client.get(f"/v1/modules/scaispeak/jobs/{job_id}", headers=headers)).json()
        if job["state"] in states:
            return job
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.1)


async def test_async_job_completes_with_intelligible_audio(live: LiveApp) -> None:
    accepted = await submit(live, format="flac")
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["location"] == f"/v1/modules/scaispeak/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["progress"]["segments_total"] == 3
    done = await wait_for(live, job["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    assert done["progress"]["fraction"] == 1.0
    audio = await live.client.get(done["audio_url"], headers=live.auth(live.tenancy.member_a))
    pcm, rate = soundfile.read(io.BytesIO(audio.content), dtype="float32")
    assert len(pcm) / rate == pytest.approx(done["audio_seconds"], abs=0.05)
    assert done["audio_seconds"] == round(done["audio_seconds"], 3)  # as the headers give it
    # Piper samples its durations afresh each time: over 32 jobs, greedy Whisper tiny
    # scored 0-0.19 (most 0-0.03; 0.19 = "keep reclined" for "keeper climbed"). A lost
    # or garbled segment costs a third of the words, far above this bound.
    assert word_error_rate(STORY, transcribe(pcm, rate, beam_size=5)) <= 0.2


async def test_long_text_falls_through_to_a_job(live: LiveApp) -> None:
    limit = live.app.state.platform.settings.limits.inline_max_chars
    text = ("A sentence to fill the page. " * (limit // 28 + 2))[: limit + 50]
    response = await live.client.post(
        SPEAK, json={"text": text, "voice_id": JOE}, headers=live.auth(live.tenancy.member_a)
    )
    assert response.status_code == 202
    cancelled = await live.client.delete(
        response.headers["location"], headers=live.auth(live.tenancy.member_a)
    )
    assert cancelled.json()["state"] == "cancelled"


async def test_idempotency_key_returns_the_same_job_or_409(live: LiveApp) -> None:
    first = await submit(live, key="order-42")
    again = await submit(live, key="order-42")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await submit(live, text="A different request.", key="order-42")
    assert_problem(other, 409, "idempotency_key_reused")
    async with live.app.state.platform.db.sessions() as session:
        count = await session.execute(
            select(func.count()).where(SynthJob.idempotency_key == "order-42")
        )
        assert count.scalar_one() == 1


async def test_range_requests_return_the_right_bytes(live: LiveApp) -> None:
    job = (await submit(live, format="wav")).json()
    done = await wait_for(live, job["id"], {"succeeded"})
    headers = live.auth(live.tenancy.member_a)
    whole = (await live.client.get(done["audio_url"], headers=headers)).content
    assert len(whole) == done["audio_bytes"]
    part = await live.client.get(done["audio_url"], headers=headers | {"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    tail = await live.client.get(done["audio_url"], headers=headers | {"Range": "bytes=-50"})
    assert tail.content == whole[-50:]
    beyond = await live.client.get(
        done["audio_url"], headers=headers | {"Range": f"bytes={len(whole)}-"}
    )
    assert_problem(beyond, 416, "range_not_satisfiable")


async def test_a_head_of_job_audio_answers_the_gets_headers_without_reading_it(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered as a GET, a HEAD read the whole blob from storage (a long job's is
    gigabytes, an S3 GET's worth of egress each) only to drop it."""
    live = sqlite_app
    job = (await submit(live, format="wav")).json()
    done = await wait_for(live, job["id"], {"succeeded"})
    headers = live.auth(live.tenancy.member_a)
    storage = live.app.state.platform.storage
    read, stream = [], storage.stream

    def counted(*args: Any, **kwargs: Any) -> Any:
        read.append(args)
        return stream(*args, **kwargs)

    monkeypatch.setattr(storage, "stream", counted)
    head = await live.client.head(done["audio_url"], headers=headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(done["audio_bytes"])
    assert head.headers["content-type"].startswith("audio/wav")
    part = await live.client.head(done["audio_url"], headers=headers | {"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.headers["content-length"] == "100"
    assert read == []
    got = await live.client.get(done["audio_url"], headers=headers)
    assert len(got.content) == done["audio_bytes"] and len(read) == 1


async def test_job_audio_has_a_validator_and_honours_conditional_requests(
    sqlite_app: LiveApp,
) -> None:
    """It had no ETag: a stale If-Range still got a 206 of bytes from another version,
    and If-None-Match was ignored (helper-76)."""
    live = sqlite_app
    done = await wait_for(live, (await submit(live, format="wav")).json()["id"], {"succeeded"})
    headers = live.auth(live.tenancy.member_a)
    whole = await live.client.get(done["audio_url"], headers=headers)
    etag = whole.headers["etag"]
    assert whole.headers["content-disposition"] == f'inline; filename="{done["id"]}.wav"'
    current = await live.client.get(done["audio_url"], headers=headers | {"If-None-Match": etag})
    assert current.status_code == 304 and current.content == b""
    ranged = headers | {"Range": "bytes=0-9"}
    fresh = await live.client.get(done["audio_url"], headers=ranged | {"If-Range": etag})
    assert fresh.status_code == 206 and len(fresh.content) == 10
    stale = await live.client.get(done["audio_url"], headers=ranged | {"If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == whole.content


async def test_cancelled_job_is_not_charged(live: LiveApp) -> None:
    job = (await submit(live, text=STORY * 6)).json()
    cancelled = await live.client.delete(
        f"/v1/modules/scaispeak/jobs/{job['id']}", headers=live.auth(live.tenancy.member_a)
    )
    assert cancelled.json()["state"] == "cancelled"
    await asyncio.sleep(1.0)  # a running worker notices at its next checkpoint
    final = await wait_for(live, job["id"], {"cancelled", "succeeded", "failed"})
    assert final["state"] == "cancelled"
    async with live.app.state.platform.db.sessions() as session:
        charged = await session.execute(
            select(func.count()).where(UsageEntry.request_id == job["id"])
        )
        assert charged.scalar_one() == 0


async def test_other_tenants_jobs_are_404(live: LiveApp) -> None:
    job = (await submit(live)).json()
    other = live.auth(live.tenancy.member_b)
    url = f"/v1/modules/scaispeak/jobs/{job['id']}"
    assert_problem(await live.client.get(url, headers=other), 404, "not_found")
    assert_problem(await live.client.delete(url, headers=other), 404, "not_found")
    listed = (await live.client.get("/v1/modules/scaispeak/jobs", headers=other)).json()
    assert job["id"] not in {j["id"] for j in listed["items"]}
    await wait_for(live, job["id"], {"succeeded"})


async def test_succeeded_job_is_charged_once(live: LiveApp) -> None:
    job = (await submit(live)).json()
    await wait_for(live, job["id"], {"succeeded"})
    async with live.app.state.platform.db.sessions() as session:
        lines = list(
            (
                await session.execute(select(UsageEntry).where(UsageEntry.request_id == job["id"]))
            ).scalars()
        )
    assert len(lines) == 1 and lines[0].kind == "job" and lines[0].characters == len(STORY)
    assert np.isclose(
        lines[0].audio_seconds, job["progress"]["audio_seconds"] or lines[0].audio_seconds
    )


async def test_revoking_a_voice_cancels_its_jobs(live: LiveApp) -> None:
    from scaispeak.speak.jobs.service import cancel_jobs_of_voice

    job = (await submit(live, text=STORY * 8)).json()
    cancelled = await cancel_jobs_of_voice(live.app.state.platform.db, JOE)
    assert job["id"] in cancelled
    final = await wait_for(live, job["id"], {"cancelled", "succeeded", "failed"})
    assert final["state"] == "cancelled" and "revoked" in final["error"]


async def test_deleting_a_voice_cancels_its_jobs(sqlite_app: LiveApp) -> None:
    """A superadmin's takedown of a stock voice (SQLite: the shared PostgreSQL keeps it)."""
    job = (await submit(sqlite_app, text=STORY * 8)).json()
    root = sqlite_app.auth(sqlite_app.tenancy.superadmin)
    deleted = await sqlite_app.client.delete(f"/v1/modules/scaispeak/voices/{JOE}", headers=root)
    assert deleted.status_code == 204
    final = await wait_for(sqlite_app, job["id"], {"cancelled", "succeeded", "failed"})
    assert final["state"] == "cancelled" and "deleted" in final["error"], final


async def test_a_result_over_2_gib_is_recorded(live: LiveApp) -> None:
    """A 420,000-character WAV job at 48 kHz passes 2 GiB: PostgreSQL's 32-bit column
    refused it at the job's last commit."""
    job = (await submit(live, text="Short.")).json()
    await wait_for(live, job["id"], {"succeeded"})
    async with live.app.state.platform.db.sessions() as session:
        row = await session.get(SynthJob, job["id"])
        assert row is not None
        row.result_bytes = 3_000_000_000
        await session.commit()
    got = await live.client.get(
        f"/v1/modules/scaispeak/jobs/{job['id']}", headers=live.auth(live.tenancy.member_a)
    )
    assert got.json()["audio_bytes"] == 3_000_000_000


async def test_a_succeeded_job_counts_a_use_of_its_voice(sqlite_app: LiveApp) -> None:
    """As inline speech and streams do: the voice's popularity in the tenant, and the
    submitter's recent use."""

    async def uses() -> int:
        listed = await sqlite_app.client.get(
            "/v1/modules/scaispeak/voices",
            params={"scope": "global", "limit": 200},
            headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
        )
        [joe] = [v for v in listed.json()["items"] if v["id"] == JOE]
        return int(joe["usage_count"])

    before = await uses()
    job = (await submit(sqlite_app, text="Counted once.")).json()
    assert (await wait_for(sqlite_app, job["id"], {"succeeded", "failed"}))["state"] == "succeeded"
    assert await uses() == before + 1
