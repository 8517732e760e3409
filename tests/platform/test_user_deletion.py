"""Deleting a user: their access ends, their identity is erased, and what they made
with speech goes (docs/auth.md, docs/privacy.md). There was no way to delete a user."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from scaispeak.platform.auth.models import User
from scaispeak.platform.auth.service import _store_new_key, issue_key_by_operator
from scaispeak.platform.drive.models import Share, ShareMember, ShareOwner
from scaispeak.platform.errors import NotFound
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.voices.models import AuditEntry, Voice, VoiceScope
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem

JOE = "voc_piper_en-us-joe-medium"
SPEAK = "/v1/modules/scaispeak/speak"


async def _finished_job(app: LiveApp, key: str) -> str:
    body = {"text": "A job the deleted user asked for.", "voice_id": JOE, "mode": "async"}
    answer = await app.client.post(SPEAK, json=body, headers=app.auth(key))
    assert answer.status_code == 202, answer.text
    job_id = str(answer.json()["id"])
    for _ in range(600):
        url = f"/v1/modules/scaispeak/jobs/{job_id}"
        job = (await app.client.get(url, headers=app.auth(key))).json()
        if job["state"] == "succeeded":
            return job_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"the job did not finish: {job}")


async def _own_voice(app: LiveApp, user_id: str, tenant_id: str) -> str:
    voice = Voice(
        id=f"voc_own_{uuid.uuid4().hex[:12]}",
        scope=VoiceScope.user,
        tenant_id=tenant_id,
        owner_user_id=user_id,
        name="mine",
        language="en-US",
        engine="piper",
        engine_voice="en_US-joe-medium",
    )
    async with app.app.state.platform.db.sessions() as session:
        session.add(voice)
        await session.commit()
    return voice.id


async def _rows(app: LiveApp, statement: Any) -> list[Any]:
    async with app.app.state.platform.db.sessions() as session:
        return list((await session.execute(statement)).scalars())


async def test_a_deleted_user_loses_access_identity_and_what_they_made(live: LiveApp) -> None:
    t = live.tenancy
    member, admin = live.auth(t.member_a), live.auth(t.admin_a)
    me = (await live.client.get("/v1/auth/me", headers=member)).json()
    admin_id = (await live.client.get("/v1/auth/me", headers=admin)).json()["user_id"]
    [email] = [u.email for u in await _rows(live, select(User).where(User.id == me["user_id"]))]
    job_id = await _finished_job(live, t.member_a)
    voice_id = await _own_voice(live, t.member_a_user, t.tenant_a)
    share = await live.client.post("/v1/drive/shares", json={"name": "mine"}, headers=member)
    assert share.status_code == 201, share.text
    [job] = await _rows(live, select(SynthJob).where(SynthJob.id == job_id))
    assert job.result_key and job.text
    storage = live.app.state.platform.storage
    assert await storage.exists(job.result_key)

    deleted = await live.client.delete(f"/v1/users/{t.member_a_user}", headers=admin)

    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"] and deleted.json()["name"] == ""
    assert_problem(await live.client.get("/v1/auth/me", headers=member), 401, "unauthorized")
    users = (await live.client.get(f"/v1/tenants/{t.tenant_a}/users", headers=admin)).json()
    assert t.member_a_user not in {u["id"] for u in users}
    [user] = await _rows(live, select(User).where(User.id == t.member_a_user))
    assert me["user_id"] == user.id and user.email.endswith("@deleted.invalid")
    for keys in ("GET", "POST"):
        url = f"/v1/users/{t.member_a_user}/keys"
        response = await live.client.request(keys, url, headers=admin, json={})
        assert_problem(response, 404, "not_found")  # no new key for a deleted user
    async with live.app.state.platform.db.sessions() as session:  # nor from the CLI
        with pytest.raises(NotFound):
            await issue_key_by_operator(session, user.email, "back door")
    [job] = await _rows(live, select(SynthJob).where(SynthJob.id == job_id))
    assert job.result_key is None and job.text == ""  # the row stays, with its charge
    assert await _rows(live, select(Voice).where(Voice.id == voice_id)) == []
    # The evidence names who deleted the voice: the admin, not the deleted user.
    audited = AuditEntry.voice_id == voice_id
    [entry] = await _rows(live, select(AuditEntry).where(audited))
    assert entry.action == "voice_deleted" and entry.actor_id == admin_id
    [owned] = await _rows(live, select(Share).where(Share.id == share.json()["id"]))
    assert owned.owner_kind is ShareOwner.tenant and owned.owner_user_id is None
    member_of = ShareMember.user_id == t.member_a_user
    assert await _rows(live, select(ShareMember).where(member_of)) == []
    # The address is free for a new user, and a second deletion finishes a first one.
    again = {"email": email}
    created = await live.client.post(f"/v1/tenants/{t.tenant_a}/users", json=again, headers=admin)
    assert created.status_code == 201, created.text
    repeat = await live.client.delete(f"/v1/users/{t.member_a_user}", headers=admin)
    assert repeat.status_code == 200


async def test_a_key_minted_as_the_user_was_deleted_does_not_work(live: LiveApp) -> None:
    """A key the user minted for themselves while the deletion ran landed after it: it
    worked, and no admin could see or revoke it (helper-101)."""
    t = live.tenancy
    url = f"/v1/users/{t.member_a_user}"
    assert (await live.client.delete(url, headers=live.auth(t.admin_a))).status_code == 200
    async with live.app.state.platform.db.sessions() as session:
        user = await session.get(User, t.member_a_user)
        assert user is not None
        late = await _store_new_key(session, user, "minted meanwhile")
    me = await live.client.get("/v1/auth/me", headers=live.auth(late.secret))
    assert_problem(me, 401, "unauthorized")


async def test_only_an_admin_over_the_user_may_delete_them(live: LiveApp) -> None:
    t = live.tenancy
    admin_id = (await live.client.get("/v1/auth/me", headers=live.auth(t.admin_a))).json()
    url = f"/v1/users/{admin_id['user_id']}"
    # A colleague who is a member, and a member of another tenant: both unknown.
    for key in (t.member_a, t.member_b):
        assert_problem(await live.client.delete(url, headers=live.auth(key)), 404, "not_found")
    # Oneself: another admin must.
    assert_problem(await live.client.delete(url, headers=live.auth(t.admin_a)), 409, "conflict")
    assert (await live.client.get("/v1/auth/me", headers=live.auth(t.admin_a))).status_code == 200


async def test_a_deleted_users_running_and_queued_jobs_are_cancelled(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = live.tenancy
    pipeline = live.app.state.speak.jobs.runtime.pipeline
    running, never = asyncio.Event(), asyncio.Event()

    speak = pipeline.speak_segment

    async def held(*args: Any, **kwargs: Any) -> Any:
        running.set()
        await never.wait()  # until the user is deleted
        return await speak(*args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", held)
    body = {"text": "A job still speaking.", "voice_id": JOE, "mode": "async"}
    member = live.auth(t.member_a)
    jobs = [(await live.client.post(SPEAK, json=body, headers=member)).json()["id"]]
    await asyncio.wait_for(running.wait(), 30)
    jobs.append((await live.client.post(SPEAK, json=body, headers=member)).json()["id"])

    url = f"/v1/users/{t.member_a_user}"
    assert (await live.client.delete(url, headers=live.auth(t.admin_a))).status_code == 200

    rows = await _rows(live, select(SynthJob).where(SynthJob.id.in_(jobs)))
    never.set()  # the worker's next checkpoint finds the job no longer its own
    assert {row.state.value for row in rows} == {"cancelled"}
