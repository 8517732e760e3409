"""Consent by signed document: the voice waits until a superadmin approves it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.voices import blobs
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, Clips, VoiceApp, auth, unique
from tests.speak.voices.test_global_voices import PDF


async def submit(app: VoiceApp, key: str, clips: Clips, document: bytes = PDF) -> httpx.Response:
    return await app.client.post(
        f"{VOICES}/clone/document",
        headers=auth(key),
        data={"speaker_name": "Dana Studio", "name": unique("studio voice")},
        files={
            "reference": ("take.wav", clips.wav(clips.reference), "audio/wav"),
            "document": ("consent.pdf", document, "application/pdf"),
        },
    )


async def test_document_consent_waits_for_approval_then_builds(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    submitted = await submit(voice_app, t.admin_a, clips)
    assert submitted.status_code == 202, submitted.text
    voice: dict[str, Any] = submitted.json()
    assert voice["status"] == "pending" and voice["scope"] == "tenant"
    assert submitted.headers["Location"] == f"{VOICES}/{voice['id']}"
    root = auth(t.superadmin)
    pending = (await voice_app.client.get(f"{VOICES}/consent/pending", headers=root)).json()
    assert voice["id"] in [p["voice"]["id"] for p in pending]
    document = await voice_app.client.get(f"{VOICES}/{voice['id']}/consent/document", headers=root)
    assert document.content == PDF
    # The uploader chose the file; only its first bytes were checked: it must never run
    # as a page on the API's origin, where a reviewer's ?token= URL could be read.
    assert document.headers["X-Content-Type-Options"] == "nosniff"
    assert document.headers["Content-Security-Policy"].startswith("sandbox")
    assert document.headers["Content-Disposition"].endswith('.pdf"')
    await voice_app.runtime.builder.drain()
    assert not voice_app.fitter.fitted, "nothing is built before approval"
    approved = await voice_app.client.post(
        f"{VOICES}/{voice['id']}/consent/approve", json={"note": "signature checked"}, headers=root
    )
    assert approved.status_code == 200 and approved.json()["status"] == "processing"
    await voice_app.runtime.builder.drain()
    ready = await voice_app.client.get(f"{VOICES}/{voice['id']}", headers=auth(t.member_a))
    assert ready.json()["status"] == "ready"
    trail = await voice_app.client.get(f"{VOICES}/{voice['id']}/consent", headers=auth(t.admin_a))
    actions = [e["action"] for e in trail.json()["audit"]]
    assert actions == ["document_consent_submitted", "document_consent_approved", "voice_ready"]


async def test_rejected_document_purges_the_reference(voice_app: VoiceApp, clips: Clips) -> None:
    t = voice_app.tenancy
    voice = (await submit(voice_app, t.admin_a, clips)).json()
    rejected = await voice_app.client.post(
        f"{VOICES}/{voice['id']}/consent/reject",
        json={"note": "unsigned"},
        headers=auth(t.superadmin),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "failed"
    assert not await voice_app.storage.exists(blobs.reference_key(voice["id"]))
    # The signed document went too (no voice was made; its SHA-256 is in the trail):
    # it stayed in storage and readable after the voice was deleted (helper-79).
    document = await voice_app.client.get(
        f"{VOICES}/{voice['id']}/consent/document", headers=auth(t.superadmin)
    )
    assert_problem(document, 404, "not_found")
    assert not await voice_app.storage.exists(blobs.consent_document_key(voice["id"]))


async def test_only_admins_submit_and_only_superadmins_decide(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    assert_problem(await submit(voice_app, t.member_a, clips), 403, "forbidden")
    assert_problem(
        await submit(voice_app, t.admin_a, clips, b"plain text"), 422, "unsupported_document"
    )
    voice = (await submit(voice_app, t.admin_a, clips)).json()
    for key in (t.admin_a, t.member_a, t.member_b):
        decided = await voice_app.client.post(
            f"{VOICES}/{voice['id']}/consent/approve", json={}, headers=auth(key)
        )
        assert_problem(decided, 403, "forbidden")
        listed = await voice_app.client.get(f"{VOICES}/consent/pending", headers=auth(key))
        assert_problem(listed, 403, "forbidden")


async def test_an_approve_and_a_reject_sent_together_decide_once(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice = (await submit(voice_app, t.admin_a, clips)).json()
    root = auth(t.superadmin)
    answers = await asyncio.gather(
        *(
            voice_app.client.post(
                f"{VOICES}/{voice['id']}/consent/{verb}", json={"note": verb}, headers=root
            )
            for verb in ("approve", "reject")
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert_problem(next(a for a in answers if a.status_code == 409), 409, "not_pending_approval")
    trail = await voice_app.client.get(f"{VOICES}/{voice['id']}/consent", headers=auth(t.admin_a))
    decisions = [e["action"] for e in trail.json()["audit"] if "consent_" in e["action"]]
    assert len([d for d in decisions if d != "document_consent_submitted"]) == 1, decisions


async def test_an_intake_whose_document_cannot_be_stored_leaves_no_reference(
    sqlite_voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the commit was covered: the reference stored just before stayed for good."""
    storage, stored = sqlite_voice_app.storage, []
    put = storage.put_bytes

    async def document_refused(key: str, data: bytes) -> None:
        if key.endswith("consent-document"):
            raise StorageUnavailable("the bucket did not answer")
        stored.append(key)
        await put(key, data)

    monkeypatch.setattr(storage, "put_bytes", document_refused)
    submitted = await submit(sqlite_voice_app, sqlite_voice_app.tenancy.admin_a, clips)
    assert_problem(submitted, 503, "storage_unavailable")
    assert stored and not [key for key in stored if await storage.exists(key)]


async def test_a_superadmin_cannot_approve_a_consent_it_submitted(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """Four eyes: the bootstrap superadmin is also its tenant's admin, and approved its
    own document consent (helper-67)."""
    t = voice_app.tenancy
    submitted = await submit(voice_app, t.superadmin, clips)
    assert submitted.status_code == 202, submitted.text
    voice = submitted.json()
    approved = await voice_app.client.post(
        f"{VOICES}/{voice['id']}/consent/approve", json={"note": "mine"}, headers=auth(t.superadmin)
    )
    assert_problem(approved, 403, "forbidden")
    rejected = await voice_app.client.post(
        f"{VOICES}/{voice['id']}/consent/reject",
        json={"note": "withdrawn"},
        headers=auth(t.superadmin),
    )
    assert rejected.status_code == 200  # taking one's own submission back is allowed
