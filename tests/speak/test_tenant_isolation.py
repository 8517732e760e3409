"""Tenant-owned voices are invisible, unusable and unaddressable across tenants."""

from __future__ import annotations

from scaispeak.speak.voices.models import Voice, VoiceScope, VoiceStatus
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem


async def add_tenant_voice(
    live: LiveApp, tenant_id: str, owner: str | None, scope: VoiceScope
) -> str:
    async with live.app.state.platform.db.sessions() as session:
        voice = Voice(
            scope=scope,
            tenant_id=tenant_id,
            owner_user_id=owner,
            name=f"private {scope.value} voice",
            language="en-US",
            tags=[],
            engine="piper",
            engine_voice="en_US-joe-medium",
            status=VoiceStatus.ready,
        )
        session.add(voice)
        await session.commit()
        return voice.id


async def test_member_cannot_read_or_use_other_tenants_voice(live: LiveApp) -> None:
    t = live.tenancy
    voice_id = await add_tenant_voice(live, t.tenant_a, None, VoiceScope.tenant)
    a, b = live.auth(t.member_a), live.auth(t.member_b)
    assert (
        await live.client.get(f"/v1/modules/scaispeak/voices/{voice_id}", headers=a)
    ).status_code == 200
    assert_problem(
        await live.client.get(f"/v1/modules/scaispeak/voices/{voice_id}", headers=b),
        404,
        "unknown_voice",
    )
    listed = (await live.client.get("/v1/modules/scaispeak/voices", headers=b)).json()["items"]
    assert voice_id not in {v["id"] for v in listed}
    spoken = await live.client.post(
        "/v1/modules/scaispeak/speak", json={"text": "Hi there.", "voice_id": voice_id}, headers=b
    )
    assert_problem(spoken, 404, "unknown_voice")


async def test_user_voice_is_private_to_its_owner_inside_the_tenant(live: LiveApp) -> None:
    t = live.tenancy
    voice_id = await add_tenant_voice(live, t.tenant_a, t.member_a_user, VoiceScope.user)
    owner = await live.client.get(
        f"/v1/modules/scaispeak/voices/{voice_id}", headers=live.auth(t.member_a)
    )
    assert owner.status_code == 200
    colleague = await live.client.get(
        f"/v1/modules/scaispeak/voices/{voice_id}", headers=live.auth(t.admin_a)
    )
    assert_problem(colleague, 404, "unknown_voice")
