"""Every voice endpoint answers 404 for another tenant's voice, and for another user's
private voice: ids never leak across tenants or users."""

from __future__ import annotations

from typing import Any

import pytest

from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, Clips, VoiceApp, auth, plant_voice, unique

# (method, path suffix, JSON body); None body means no body at all.
VOICE_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("PATCH", "", {"name": "mine now"}),
    ("DELETE", "", None),
    ("POST", "/promotion/agree", None),
    ("POST", "/promote", None),
    ("POST", "/warm", None),
    ("GET", "/consent", None),
    ("POST", "/consent/revoke", {"reason": "not theirs"}),
]


async def admin_of_tenant_b(app: VoiceApp) -> str:
    root = auth(app.tenancy.superadmin)
    user = await app.client.post(
        f"/v1/tenants/{app.tenancy.tenant_b}/users",
        json={"email": f"{unique('admin')}@globex.com", "role": "tenant_admin"},
        headers=root,
    )
    key = await app.client.post(f"/v1/users/{user.json()['id']}/keys", json={}, headers=root)
    return str(key.json()["secret"])


async def call(app: VoiceApp, key: str, method: str, url: str, body: Any) -> Any:
    kwargs: dict[str, Any] = {"headers": auth(key)}
    if body is not None:
        kwargs["json"] = body
    return await app.client.request(method, url, **kwargs)


@pytest.mark.parametrize("scope", ["tenant", "user"])
async def test_other_tenants_voice_is_404_on_every_endpoint(
    voice_app: VoiceApp, clips: Clips, scope: str
) -> None:
    t = voice_app.tenancy
    owner = t.member_a_user if scope == "user" else None
    voice_id = await plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=owner, scope=scope)
    outsiders = [t.member_b, await admin_of_tenant_b(voice_app)]
    for key in outsiders:
        for method, suffix, body in VOICE_ENDPOINTS:
            response = await call(voice_app, key, method, f"{VOICES}/{voice_id}{suffix}", body)
            if suffix == "/promote" and key == t.member_b:
                assert_problem(response, 403, "forbidden")  # the role check comes first
            else:
                assert response.status_code == 404, (method, suffix, response.text)
    still = await voice_app.client.get(
        f"{VOICES}/{voice_id}", headers=auth(t.admin_a if scope == "tenant" else t.member_a)
    )
    assert still.status_code == 200 and still.json()["status"] == "ready"


async def test_a_members_private_voice_is_404_to_the_rest_of_the_tenant(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    for method, suffix, body in VOICE_ENDPOINTS:
        response = await call(voice_app, t.admin_a, method, f"{VOICES}/{voice_id}{suffix}", body)
        assert response.status_code == 404, (method, suffix, response.text)
    listed = await voice_app.client.get(VOICES, params={"scope": "user"}, headers=auth(t.admin_a))
    assert voice_id not in [v["id"] for v in listed.json()["items"]]


async def test_superadmin_only_consent_endpoints_refuse_everyone_else(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=None, scope="tenant")
    for key in (t.admin_a, t.member_a, t.member_b):
        for method, suffix in [
            ("POST", "/consent/approve"),
            ("POST", "/consent/reject"),
            ("GET", "/consent/document"),
        ]:
            body = {} if method == "POST" else None
            response = await call(voice_app, key, method, f"{VOICES}/{voice_id}{suffix}", body)
            assert_problem(response, 403, "forbidden")
