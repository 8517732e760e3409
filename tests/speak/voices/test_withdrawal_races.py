"""Two withdrawals of one voice at once: one wins, the other is told so, on both
databases (SQLite ignores FOR UPDATE, so its re-read needs the write lock first)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from scaispeak.speak.voices.models import AuditEntry
from tests.speak.voices.conftest import VOICES, Clips, VoiceApp, auth, plant_voice


def server_like_client(app: VoiceApp) -> httpx.AsyncClient:
    """As a real server answers: an unhandled error is the app's 500, not a raise."""
    transport = httpx.ASGITransport(app=app.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def entries(app: VoiceApp, voice_id: str, action: str) -> int:
    async with app.app.state.platform.db.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.voice_id == voice_id, AuditEntry.action == action)
        )
    return int(count or 0)


async def test_two_revocations_at_once_revoke_once(voice_app: VoiceApp, clips: Clips) -> None:
    t = voice_app.tenancy
    for _ in range(3):
        voice_id = await plant_voice(
            voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
        )
        revoke = f"{VOICES}/{voice_id}/consent/revoke"
        async with server_like_client(voice_app) as client:
            answers = await asyncio.gather(
                *(
                    client.post(revoke, json={"reason": why}, headers=auth(t.member_a))
                    for why in ("first", "second")
                )
            )
        assert sorted(a.status_code for a in answers) == [200, 409]
        assert await entries(voice_app, voice_id, "consent_revoked") == 1


async def test_a_revocation_racing_a_deletion_is_never_a_500(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    for _ in range(3):
        voice_id = await plant_voice(
            voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
        )
        async with server_like_client(voice_app) as client:
            revoked, deleted, again = await asyncio.gather(
                client.post(
                    f"{VOICES}/{voice_id}/consent/revoke",
                    json={"reason": "withdrawn"},
                    headers=auth(t.member_a),
                ),
                client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a)),
                client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a)),
            )
        assert sorted([deleted.status_code, again.status_code]) == [204, 404]
        assert revoked.status_code in (200, 404), revoked.text
        assert await entries(voice_app, voice_id, "voice_deleted") == 1
