"""A cloned voice builds in the background, speaks through /speak, rebuilds when evicted,
survives a restart, and loses its audio the moment consent is revoked."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import soundfile
from sqlalchemy import select, update

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.migrate import upgrade_to_head
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.engines.cloning.blob import BlobVersionMismatch
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import UnknownVoice
from scaispeak.speak.voices import blobs, purges
from scaispeak.speak.voices import builder as builder_module
from scaispeak.speak.voices.lifecycle import can_rebuild, mark_for_rebuild
from scaispeak.speak.voices.models import AuditEntry, BlobPurge, Voice, VoiceStatus
from tests.conftest import make_settings
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import (
    VOICES,
    Clips,
    FakeFitter,
    VoiceApp,
    auth,
    plant_voice,
    post_clone,
    voice_app_for,
)
from tests.support.asr import transcribe, word_error_rate

SPEAK = "/v1/modules/scaispeak/speak"


async def status_of(app: VoiceApp, key: str, voice_id: str) -> dict[str, object]:
    response = await app.client.get(f"{VOICES}/{voice_id}", headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def set_status(app: VoiceApp, voice_id: str, status: VoiceStatus, **values: object) -> None:
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(Voice).where(Voice.id == voice_id).values(status=status, **values)
        )
        await session.commit()


async def test_planted_voice_builds_and_stores_its_embedding(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    assert (await status_of(voice_app, t.member_a, voice_id))["status"] == "ready"
    assert await voice_app.storage.exists(blobs.embedding_key(voice_id))
    assert len(voice_app.fitter.fitted) == 1 and voice_app.fitter.fitted[0] > 5


async def test_a_failing_fit_leaves_the_voice_failed_with_the_reason(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_app.fitter.fail_with = "reference too noisy to fit"
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    voice = await status_of(voice_app, t.member_a, voice_id)
    assert voice["status"] == "failed"
    assert "reference too noisy to fit" in str(voice["status_reason"])


async def test_cloned_voice_speaks_through_speak_with_its_stored_embedding(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    text = "The weather today is sunny and warm."
    spoken = await voice_app.client.post(
        SPEAK, json={"text": text, "voice_id": voice_id, "format": "wav"}, headers=auth(t.member_a)
    )
    assert spoken.status_code == 200, spoken.text
    assert voice_id in voice_app.engine.cache, "the engine loaded the blob from storage"
    pcm, rate = soundfile.read(io.BytesIO(spoken.content), dtype="float32")
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.2
    for key in (t.member_b, t.admin_a):  # another tenant; another user of the same tenant
        other = await voice_app.client.post(
            SPEAK, json={"text": text, "voice_id": voice_id}, headers=auth(key)
        )
        assert_problem(other, 404, "unknown_voice")


async def test_evicted_voice_rebuilds_on_next_use(voice_app: VoiceApp, clips: Clips) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await set_status(voice_app, voice_id, VoiceStatus.evicted)
    body = {"text": "Back again.", "voice_id": voice_id}
    first = await voice_app.client.post(SPEAK, json=body, headers=auth(t.member_a))
    assert_problem(first, 409, "voice_unavailable")
    assert first.headers["Retry-After"]
    assert (await status_of(voice_app, t.member_a, voice_id))["status"] == "processing"
    await voice_app.runtime.builder.drain()
    again = await voice_app.client.post(SPEAK, json=body, headers=auth(t.member_a))
    assert again.status_code == 200, again.text
    assert len(voice_app.fitter.fitted) == 2


async def test_a_voice_being_built_answers_409_with_retry_after(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await set_status(voice_app, voice_id, VoiceStatus.processing)
    body = {"text": "Not yet.", "voice_id": voice_id}
    busy = await voice_app.client.post(SPEAK, json=body, headers=auth(t.member_a))
    assert_problem(busy, 409, "voice_unavailable")
    assert busy.headers["Retry-After"] == "5"


async def test_warm_loads_a_ready_voice_and_rebuilds_an_evicted_one(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    warm = await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    assert warm.status_code == 200 and voice_id in voice_app.engine.cache
    await set_status(voice_app, voice_id, VoiceStatus.evicted)
    rebuilding = await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    assert rebuilding.status_code == 202 and rebuilding.json()["status"] == "processing"
    await voice_app.runtime.builder.drain()
    assert (await status_of(voice_app, t.member_a, voice_id))["status"] == "ready"


async def test_revocation_disables_the_voice_and_deletes_its_blobs(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    keys = [blobs.reference_key(voice_id), blobs.embedding_key(voice_id)]
    assert all([await voice_app.storage.exists(k) for k in keys])
    await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    revoke = await voice_app.client.post(
        f"{VOICES}/{voice_id}/consent/revoke",
        json={"reason": "I changed my mind"},
        headers=auth(t.member_a),
    )
    assert revoke.status_code == 200, revoke.text
    assert revoke.json()["status"] == "failed"
    assert not any([await voice_app.storage.exists(k) for k in keys])
    assert voice_id not in voice_app.engine.cache
    spoken = await voice_app.client.post(
        SPEAK, json={"text": "Hello.", "voice_id": voice_id}, headers=auth(t.member_a)
    )
    assert_problem(spoken, 409, "voice_unavailable")
    trail = await voice_app.client.get(f"{VOICES}/{voice_id}/consent", headers=auth(t.member_a))
    assert trail.json()["consent"]["state"] == "revoked"
    assert trail.json()["audit"][-1]["action"] == "consent_revoked"
    again = await voice_app.client.post(
        f"{VOICES}/{voice_id}/consent/revoke", json={}, headers=auth(t.member_a)
    )
    assert_problem(again, 409, "consent_revoked")
    warm = await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    assert_problem(warm, 409, "voice_unavailable")  # a revoked voice is never rebuilt
    after = await voice_app.client.get(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
    assert after.json()["status"] == "failed"


async def test_revocation_during_a_build_wins(voice_app: VoiceApp, clips: Clips) -> None:
    t = voice_app.tenancy
    voice_app.fitter.gate = gate = threading.Event()
    try:
        planting = plant_voice(
            voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
        )
        task = asyncio.create_task(planting)
        voice_id = await wait_for_processing(voice_app, t.tenant_a)
        revoke = await voice_app.client.post(
            f"{VOICES}/{voice_id}/consent/revoke", json={}, headers=auth(t.member_a)
        )
        assert revoke.status_code == 200
    finally:
        gate.set()
    await task
    assert (await status_of(voice_app, t.member_a, voice_id))["status"] == "failed"
    assert not await voice_app.storage.exists(blobs.embedding_key(voice_id))


async def wait_for_processing(app: VoiceApp, tenant_id: str) -> str:
    """The tenant's voice being built (the PostgreSQL database is shared with other
    tests, whose voices may be building too)."""
    for _ in range(200):
        async with app.app.state.platform.db.sessions() as session:
            stmt = select(Voice.id).where(
                Voice.tenant_id == tenant_id,
                Voice.status == VoiceStatus.processing,
                Voice.build_lease_until.is_not(None),
            )
            found = (await session.execute(stmt)).scalars().first()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("no build started")


async def test_a_build_left_by_a_dead_process_resumes_at_start_up(
    tmp_path: Path, database_url: str, engines: EngineRegistry, clips: Clips
) -> None:
    settings = make_settings(tmp_path, database_url)
    async with voice_app_for(settings, engines) as first:
        t = first.tenancy
        voice_id = await plant_voice(
            first, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
        )
    # As a crash would leave it: processing, its lease long expired.
    db = Database(settings.resolved_database_url)
    await upgrade_to_head(db.engine)
    async with db.sessions() as session:
        await session.execute(
            update(Voice)
            .where(Voice.id == voice_id)
            .values(status=VoiceStatus.processing, build_lease_until=utcnow() - timedelta(hours=1))
        )
        await session.commit()
    await db.dispose()
    fitter = FakeFitter()
    async with voice_app_for(settings, engines, fitter) as second:
        await second.runtime.builder.drain()
        assert fitter.fitted, "the new process rebuilt the voice"
        async with second.app.state.platform.db.sessions() as session:
            voice = await session.get(Voice, voice_id)
            assert voice is not None and voice.status is VoiceStatus.ready


async def test_a_new_fitter_version_evicts_old_embeddings_at_start_up(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    settings = make_settings(tmp_path)
    async with voice_app_for(settings, engines) as first:
        t = first.tenancy
        voice_id = await plant_voice(
            first, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
        )
    upgraded = FakeFitter(version="test-fitter-2")
    async with voice_app_for(settings, engines, upgraded) as second:
        db = second.app.state.platform.db
        async with db.sessions() as session:
            voice = await session.get(Voice, voice_id)
            assert voice is not None and voice.status is VoiceStatus.evicted
            entries = await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.voice_id == voice_id, AuditEntry.action == "voice_evicted"
                )
            )
            [entry] = entries.all()  # the trail says why the voice is rebuilt
            assert entry.details["current"] == "test-fitter-2"


async def test_a_voice_fitted_for_other_stock_tables_is_unavailable_not_a_500(
    voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a rolling deploy an older process meets a voice a newer one fitted again."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )

    def outdated(voice: str) -> bytes:
        raise BlobVersionMismatch("blob mixes other Kokoro style tables than installed")

    monkeypatch.setattr(voice_app.engine, "loader", outdated)
    spoken = await voice_app.client.post(
        SPEAK, json={"text": "Hello there.", "voice_id": voice_id}, headers=auth(t.member_a)
    )
    assert_problem(spoken, 409, "voice_unavailable")
    warmed = await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    assert_problem(warmed, 409, "voice_unavailable")


async def test_an_embedding_that_answers_to_the_new_version_is_kept_at_start_up(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    """A version renamed (the stock tables' fingerprint added to it) evicted every
    cloned voice at the first start, and refitted each one, a minute a voice."""
    settings = make_settings(tmp_path)
    async with voice_app_for(settings, engines) as first:
        t = first.tenancy
        kept, outdated = [
            await plant_voice(
                first, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
            )
            for _ in range(2)
        ]
        embedding = await first.storage.get(blobs.embedding_key(kept))
        await first.storage.put_bytes(blobs.embedding_key(outdated), b"embedding:other tables")
    renamed = FakeFitter(
        version="test-fitter-1+tables-abc", answers_to={embedding: "test-fitter-1+tables-abc"}
    )
    async with voice_app_for(settings, engines, renamed) as second:
        db = second.app.state.platform.db
        async with db.sessions() as session:
            still = await session.get(Voice, kept)
            gone = await session.get(Voice, outdated)
    assert still is not None and still.status is VoiceStatus.ready
    assert still.embedding_version == "test-fitter-1+tables-abc"
    assert gone is not None and gone.status is VoiceStatus.evicted


async def test_a_rebuild_asked_for_as_consent_is_revoked_leaves_the_voice_revoked(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """A warm (or a use) reads an evicted voice, the owner revokes consent, then the
    warm queues its rebuild: the revocation must stand, not turn back to processing."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await set_status(voice_app, voice_id, VoiceStatus.evicted)
    async with voice_app.app.state.platform.db.sessions() as warming:
        voice = await warming.get(Voice, voice_id)
        assert voice is not None and can_rebuild(voice)
        revoke = await voice_app.client.post(
            f"{VOICES}/{voice_id}/consent/revoke", json={}, headers=auth(t.member_a)
        )
        assert revoke.status_code == 200, revoke.text
        queued = await mark_for_rebuild(warming, voice)
        await warming.commit()
    assert not queued
    assert (await status_of(voice_app, t.member_a, voice_id))["status"] == "failed"


async def test_builds_take_turns_between_tenants_and_claim_only_what_runs(
    tmp_path: Path, engines: EngineRegistry, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenant A asks for three voices, then tenant B for one: B's is built second, not
    fourth; and while one build runs, the others stay unclaimed (another process may
    take them). A database of its own: the builder takes every waiting voice in it."""
    started: list[str] = []
    build = builder_module.build_voice_embedding

    async def recorded(voice_id: str, **kwargs: Any) -> Any:
        started.append(voice_id)
        return await build(voice_id, **kwargs)

    monkeypatch.setattr(builder_module, "build_voice_embedding", recorded)
    async with voice_app_for(make_settings(tmp_path), engines) as voice_app:
        t = voice_app.tenancy
        voice_app.fitter.gate = threading.Event()
        plant = {"tenant_id": t.tenant_a, "owner": t.member_a_user, "scope": "user"}
        a1, a2, a3 = [await plant_voice(voice_app, clips, **plant, built=False) for _ in range(3)]  # type: ignore[arg-type]
        b1 = await plant_voice(
            voice_app, clips, tenant_id=t.tenant_b, owner=None, scope="tenant", built=False
        )
        voice_app.runtime.builder.kick()
        for _ in range(200):
            if started:
                break
            await asyncio.sleep(0.05)
        async with voice_app.app.state.platform.db.sessions() as session:
            leased = select(Voice.id).where(Voice.build_lease_until.is_not(None))
            assert list(await session.scalars(leased)) == [a1]
        voice_app.fitter.gate.set()
        await voice_app.runtime.builder.drain()
    assert started == [a1, b1, a2, a3]


@pytest.mark.parametrize("withdrawal", ["revoke", "delete"])
async def test_a_build_finishing_while_its_voice_is_withdrawn_leaves_no_embedding(
    voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch, withdrawal: str
) -> None:
    """The withdrawal read the voice before its build stored the embedding and marked
    it ready: the read's keys (no embedding yet) were all it deleted."""
    from scaispeak.speak.voices import consent, editing

    t = voice_app.tenancy
    voice_app.fitter.gate = gate = threading.Event()
    try:
        task = asyncio.create_task(
            plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user")
        )
        voice_id = await wait_for_processing(voice_app, t.tenant_a)
        module, name = (
            (consent, "_revocable") if withdrawal == "revoke" else (editing, "editable_voice")
        )
        read = getattr(module, name)

        async def read_then_let_the_build_finish(*args: Any) -> Any:
            found = await read(*args)
            gate.set()
            for _ in range(200):  # the build ends between the read and the withdrawal
                async with voice_app.app.state.platform.db.sessions() as session:
                    row = await session.get(Voice, voice_id)
                if row is not None and row.status is VoiceStatus.ready:
                    return found
                await asyncio.sleep(0.05)
            raise AssertionError("the build did not finish")

        monkeypatch.setattr(module, name, read_then_let_the_build_finish)
        if withdrawal == "revoke":
            done = await voice_app.client.post(
                f"{VOICES}/{voice_id}/consent/revoke", json={}, headers=auth(t.member_a)
            )
        else:
            done = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
        assert done.status_code in (200, 204), done.text
    finally:
        gate.set()
    await task
    assert not await voice_app.storage.exists(blobs.embedding_key(voice_id))
    async with voice_app.app.state.platform.db.sessions() as session:
        row = await session.get(Voice, voice_id)
        assert row is None or (row.embedding_blob is None and row.revoked_at is not None)


async def test_a_rebuild_asked_for_on_a_stale_read_leaves_a_running_build_alone(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """Two warms read the voice evicted; the first queued its rebuild, which a builder
    claimed. The second must not clear that build's lease (a second build would start
    and, losing, delete the first one's embedding)."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await set_status(voice_app, voice_id, VoiceStatus.evicted)
    lease = utcnow() + timedelta(minutes=5)
    async with voice_app.app.state.platform.db.sessions() as warming:
        voice = await warming.get(Voice, voice_id)
        assert voice is not None and can_rebuild(voice)
        await set_status(voice_app, voice_id, VoiceStatus.processing, build_lease_until=lease)
        queued = await mark_for_rebuild(warming, voice)
        await warming.commit()
    assert not queued
    async with voice_app.app.state.platform.db.sessions() as session:
        row = await session.get(Voice, voice_id)
        assert row is not None and row.build_lease_until is not None


async def test_a_rebuild_asked_for_a_voice_deleted_meanwhile_is_unknown_voice(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """It was a 500: the refresh after the UPDATE found no row."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await set_status(voice_app, voice_id, VoiceStatus.evicted)
    async with voice_app.app.state.platform.db.sessions() as warming:
        voice = await warming.get(Voice, voice_id)
        assert voice is not None
        deleted = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
        assert deleted.status_code == 204, deleted.text
        with pytest.raises(UnknownVoice):
            await mark_for_rebuild(warming, voice)


async def test_a_process_without_the_cloning_engine_builds_nothing_and_refuses_intake(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    """It claimed every waiting build and failed it at once ("no cloning engine"),
    voices queued for processes that can build; intake answered 202 for a voice no
    process here could ever build."""
    settings = make_settings(tmp_path)
    async with voice_app_for(settings, engines) as app:
        builder = app.runtime.builder
        await builder.stop()
        builder.ctx.fitter = None
        await builder.start()
        t = app.tenancy
        voice_id = await plant_voice(
            app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user", built=False
        )
        builder.kick()
        await asyncio.sleep(1.0)
        assert (await status_of(app, t.member_a, voice_id))["status"] == "processing"
        wav = clips.wav(clips.reference)
        refused = await post_clone(app, t.member_a, wav, clips.wav(clips.genuine))
        assert_problem(refused, 503, "cloning_unavailable")


@pytest.mark.parametrize("withdrawal", ["revoke", "delete"])
async def test_a_withdrawn_voices_audio_is_deleted_once_the_store_answers_again(
    voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch, withdrawal: str
) -> None:
    """The deletion after the commit was best effort: a store failing then left the
    reference and embedding stored for good (and a revocation skipped its withdrawal:
    the cached voice, the voice's jobs)."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    await voice_app.client.post(f"{VOICES}/{voice_id}/warm", headers=auth(t.member_a))
    assert voice_id in voice_app.engine.cache
    storage = voice_app.storage
    keys = [blobs.reference_key(voice_id), blobs.embedding_key(voice_id)]
    delete = storage.delete

    async def store_down(key: str) -> None:
        raise StorageUnavailable("the bucket did not answer")

    monkeypatch.setattr(storage, "delete", store_down)
    if withdrawal == "revoke":
        url = f"{VOICES}/{voice_id}/consent/revoke"
        done = await voice_app.client.post(url, json={}, headers=auth(t.member_a))
    else:
        done = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
    assert done.status_code in (200, 204), done.text
    assert voice_id not in voice_app.engine.cache
    assert all([await storage.exists(k) for k in keys])  # still there: the store failed
    monkeypatch.setattr(storage, "delete", delete)
    db = voice_app.app.state.platform.db
    await purges.purge_due(db, storage)  # not due yet: retried a minute on
    assert all([await storage.exists(k) for k in keys])
    async with db.sessions() as session:
        await session.execute(
            update(BlobPurge).where(BlobPurge.key.in_(keys)).values(due_at=utcnow())
        )
        await session.commit()
    assert await purges.purge_due(db, storage) >= 2  # as the app's purger does every minute
    assert voice_app.runtime.purger is not None and not voice_app.runtime.purger.done()
    assert not any([await storage.exists(k) for k in keys])


async def test_a_revocation_whose_voice_is_deleted_meanwhile_is_unknown_voice(
    voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It went on with the row it had read: a 500 (the UPDATE found no row)."""
    from scaispeak.speak.voices import consent

    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    read = consent._revocable

    async def read_then_deleted(*args: Any) -> Any:
        found = await read(*args)
        deleted = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
        assert deleted.status_code == 204, deleted.text
        return found

    monkeypatch.setattr(consent, "_revocable", read_then_deleted)
    url = f"{VOICES}/{voice_id}/consent/revoke"
    revoked = await voice_app.client.post(url, json={}, headers=auth(t.member_a))
    assert_problem(revoked, 404, "unknown_voice")
