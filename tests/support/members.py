"""More users for tests that need someone besides the tenancy's fixed cast."""

from __future__ import annotations

import uuid

from tests.conftest import LiveApp


async def new_member_of_tenant_a(live: LiveApp) -> tuple[str, str]:
    """Another plain member of tenant A: (user id, API key)."""
    admin = live.auth(live.tenancy.admin_a)
    user = await live.client.post(
        f"/v1/tenants/{live.tenancy.tenant_a}/users",
        json={"email": f"m-{uuid.uuid4().hex[:8]}@acme.com"},
        headers=admin,
    )
    assert user.status_code == 201, user.text
    user_id = user.json()["id"]
    key = await live.client.post(f"/v1/users/{user_id}/keys", json={}, headers=admin)
    return user_id, key.json()["secret"]
