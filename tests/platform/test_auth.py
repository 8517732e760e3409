"""Authentication, roles and tenant isolation, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from scaispeak.platform.auth.models import Tenant
from scaispeak.platform.auth.service import bootstrap
from tests.conftest import LiveApp
from tests.support.database import migrated_database

VOICES = "/v1/modules/scaispeak/voices"


def assert_problem(response: object, status: int, code: str) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"] and body["detail"]


async def test_request_without_credentials_is_401_problem(live: LiveApp) -> None:
    response = await live.client.get(VOICES)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_invalid_and_malformed_keys_are_401(live: LiveApp) -> None:
    bad = live.auth("ssk_000000000000_not-a-real-secret")
    assert_problem(await live.client.get(VOICES, headers=bad), 401, "unauthorized")
    assert_problem(
        await live.client.get(VOICES, headers=live.auth("nonsense")), 401, "unauthorized"
    )
    garbled = await live.client.get(VOICES, params={"token": "nonsense"})
    assert_problem(garbled, 401, "unauthorized")
    assert "browser token" in garbled.json()["detail"]  # it may have been meant as one


async def test_api_key_is_stored_hashed_and_shown_once(live: LiveApp) -> None:
    t = live.tenancy
    me = (await live.client.get("/v1/auth/me", headers=live.auth(t.member_a))).json()
    keys = await live.client.get(f"/v1/users/{me['user_id']}/keys", headers=live.auth(t.member_a))
    assert keys.status_code == 200
    assert all("secret" not in k for k in keys.json())
    from sqlalchemy import select

    from scaispeak.platform.auth.models import ApiKey

    async with live.app.state.platform.db.sessions() as session:
        hashes = list((await session.execute(select(ApiKey.secret_hash))).scalars())
    assert t.member_a not in hashes
    assert all(len(h) == 64 for h in hashes)


async def test_revoked_key_stops_working(live: LiveApp) -> None:
    t = live.tenancy
    issued = (
        await live.client.post(
            f"/v1/users/{t.member_a_user}/keys", json={"name": "ci"}, headers=live.auth(t.member_a)
        )
    ).json()
    assert (await live.client.get(VOICES, headers=live.auth(issued["secret"]))).status_code == 200
    revoked = await live.client.delete(f"/v1/keys/{issued['id']}", headers=live.auth(t.admin_a))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_problem(
        await live.client.get(VOICES, headers=live.auth(issued["secret"])), 401, "unauthorized"
    )


async def test_browser_token_works_as_query_parameter_and_expires_capped(live: LiveApp) -> None:
    t = live.tenancy
    made = await live.client.post(
        "/v1/auth/tokens", json={"ttl_seconds": 86_400}, headers=live.auth(t.member_a)
    )
    assert made.status_code == 201
    token = made.json()["token"]
    me = await live.client.get("/v1/auth/me", params={"token": token})
    assert me.status_code == 200 and me.json()["tenant_id"] == t.tenant_a
    from datetime import UTC, datetime

    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert (expires - datetime.now(UTC)).total_seconds() <= 301


async def test_tampered_browser_token_is_401(live: LiveApp) -> None:
    made = await live.client.post(
        "/v1/auth/tokens", json={}, headers=live.auth(live.tenancy.member_a)
    )
    token = made.json()["token"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_problem(
        await live.client.get("/v1/auth/me", params={"token": forged}), 401, "unauthorized"
    )


async def test_member_cannot_create_tenants_or_users(live: LiveApp) -> None:
    t = live.tenancy
    member = live.auth(t.member_a)
    assert_problem(
        await live.client.post("/v1/tenants", json={"name": "x"}, headers=member), 403, "forbidden"
    )
    response = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users", json={"email": "x@acme.com"}, headers=member
    )
    assert_problem(response, 403, "forbidden")


async def test_tenant_admin_manages_own_tenant_only(live: LiveApp) -> None:
    t = live.tenancy
    admin = live.auth(t.admin_a)
    own = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users", json={"email": "new@acme.com"}, headers=admin
    )
    assert own.status_code == 201 and own.json()["role"] == "member"
    other = await live.client.post(
        f"/v1/tenants/{t.tenant_b}/users", json={"email": "spy@acme.com"}, headers=admin
    )
    assert_problem(other, 404, "not_found")
    escalate = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users",
        json={"email": "boss@acme.com", "role": "superadmin"},
        headers=admin,
    )
    assert_problem(escalate, 403, "forbidden")


async def test_other_tenants_users_and_keys_are_404(live: LiveApp) -> None:
    t = live.tenancy
    users_b = await live.client.get(
        f"/v1/tenants/{t.tenant_b}/users", headers=live.auth(t.superadmin)
    )
    user_b = users_b.json()[0]["id"]
    keys_b = await live.client.get(f"/v1/users/{user_b}/keys", headers=live.auth(t.superadmin))
    key_b = keys_b.json()[0]["id"]
    a_admin = live.auth(t.admin_a)
    assert_problem(
        await live.client.get(f"/v1/users/{user_b}/keys", headers=a_admin), 404, "not_found"
    )
    assert_problem(await live.client.delete(f"/v1/keys/{key_b}", headers=a_admin), 404, "not_found")
    assert_problem(
        await live.client.get(f"/v1/tenants/{t.tenant_b}/users", headers=a_admin), 404, "not_found"
    )


async def test_member_cannot_mint_keys_for_a_colleague(live: LiveApp) -> None:
    """Nor learn that the colleague exists: a 403 confirmed the id, where a missing one
    was a 404."""
    t = live.tenancy
    users = await live.client.get(f"/v1/tenants/{t.tenant_a}/users", headers=live.auth(t.admin_a))
    admin_user = next(u for u in users.json() if u["role"] == "tenant_admin")
    member = live.auth(t.member_a)
    response = await live.client.post(f"/v1/users/{admin_user['id']}/keys", json={}, headers=member)
    assert_problem(response, 404, "not_found")
    listed = await live.client.get(f"/v1/users/{admin_user['id']}/keys", headers=member)
    assert_problem(listed, 404, "not_found")


async def test_member_revoking_a_colleagues_key_learns_no_more_than_for_a_made_up_one(
    live: LiveApp,
) -> None:
    """It answered "No user with id 'usr_…'": the key exists, and whose it is (helper-86)."""
    t = live.tenancy
    admin = live.auth(t.admin_a)
    users = await live.client.get(f"/v1/tenants/{t.tenant_a}/users", headers=admin)
    admin_user = next(u for u in users.json() if u["role"] == "tenant_admin")["id"]
    admins_key = (
        await live.client.post(f"/v1/users/{admin_user}/keys", json={}, headers=admin)
    ).json()["id"]
    member = live.auth(t.member_a)
    for key_id in (admins_key, "key_made_up"):
        refused = await live.client.delete(f"/v1/keys/{key_id}", headers=member)
        assert_problem(refused, 404, "not_found")
        assert refused.json()["detail"] == f"No API key with id {key_id!r}."


async def test_duplicate_email_is_409(live: LiveApp) -> None:
    t = live.tenancy
    body = {"email": "twice@acme.com"}
    first = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users", json=body, headers=live.auth(t.admin_a)
    )
    assert first.status_code == 201
    again = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users", json=body, headers=live.auth(t.admin_a)
    )
    assert_problem(again, 409, "conflict")


async def test_an_email_of_another_tenant_is_not_revealed_by_a_409(live: LiveApp) -> None:
    """Unique within a tenant: a 409 for an address in some other tenant would tell a
    tenant admin who is a user elsewhere on the platform."""
    t = live.tenancy
    body = {"email": f"shared-{uuid.uuid4().hex[:8]}@example.com"}
    elsewhere = await live.client.post(
        f"/v1/tenants/{t.tenant_b}/users", json=body, headers=live.auth(t.superadmin)
    )
    assert elsewhere.status_code == 201, elsewhere.text
    here = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users", json=body, headers=live.auth(t.admin_a)
    )
    assert here.status_code == 201, here.text


async def _superadmin_in_tenant_a(live: LiveApp) -> str:
    """An operator whose home tenant is acme: visible to acme's tenant admin."""
    made = await live.client.post(
        f"/v1/tenants/{live.tenancy.tenant_a}/users",
        json={"email": f"ops-{uuid.uuid4().hex[:6]}@acme.com", "role": "superadmin"},
        headers=live.auth(live.tenancy.superadmin),
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_tenant_admin_cannot_mint_list_or_revoke_a_superadmins_keys(live: LiveApp) -> None:
    operator = await _superadmin_in_tenant_a(live)
    admin = live.auth(live.tenancy.admin_a)
    minted = await live.client.post(f"/v1/users/{operator}/keys", json={}, headers=admin)
    assert_problem(minted, 403, "forbidden")
    listed = await live.client.get(f"/v1/users/{operator}/keys", headers=admin)
    assert_problem(listed, 403, "forbidden")
    own = await live.client.post(
        f"/v1/users/{operator}/keys", json={}, headers=live.auth(live.tenancy.superadmin)
    )
    assert own.status_code == 201
    revoked = await live.client.delete(f"/v1/keys/{own.json()['id']}", headers=admin)
    assert_problem(revoked, 403, "forbidden")
    me = await live.client.get("/v1/auth/me", headers=live.auth(own.json()["secret"]))
    assert me.status_code == 200 and me.json()["role"] == "superadmin"


async def test_tenant_admin_manages_keys_of_members_and_fellow_admins(live: LiveApp) -> None:
    t = live.tenancy
    admin = live.auth(t.admin_a)
    fellow = await live.client.post(
        f"/v1/tenants/{t.tenant_a}/users",
        json={"email": f"admin2-{uuid.uuid4().hex[:6]}@acme.com", "role": "tenant_admin"},
        headers=admin,
    )
    assert fellow.status_code == 201
    key = await live.client.post(f"/v1/users/{fellow.json()['id']}/keys", json={}, headers=admin)
    assert key.status_code == 201  # a new user's first key
    revoked = await live.client.delete(f"/v1/keys/{key.json()['id']}", headers=admin)
    assert revoked.status_code == 200


async def test_an_admin_cannot_mint_a_key_beside_one_the_user_holds(live: LiveApp) -> None:
    """A tenant admin minted a member a second key and, acting as them, read their
    private voices and gave the owner's half of a two-party promotion (helper-77).
    A replacement takes revoking the user's keys first, which the user notices."""
    t = live.tenancy
    admin = live.auth(t.admin_a)
    keys = f"/v1/users/{t.member_a_user}/keys"
    assert_problem(await live.client.post(keys, json={}, headers=admin), 409, "user_has_a_live_key")
    own = await live.client.post(keys, json={}, headers=live.auth(t.member_a))
    assert own.status_code == 201  # the user may mint more of their own
    for held in (await live.client.get(keys, headers=admin)).json():
        await live.client.delete(f"/v1/keys/{held['id']}", headers=admin)
    replacement = await live.client.post(keys, json={}, headers=admin)
    assert replacement.status_code == 201, replacement.text


@pytest.mark.postgres
async def test_replicas_starting_together_on_a_new_database_bootstrap_once(
    own_postgres_url: str,
) -> None:
    """Each replica's first start bootstraps if the database has no user; together,
    they made two "default" tenants, each with a first key printed on its console."""
    async with migrated_database(own_postgres_url) as db:

        async def first_start() -> object:
            async with db.sessions() as session:
                return await bootstrap(session, "default", "admin@localhost", only_if_empty=True)

        made = await asyncio.gather(*(first_start() for _ in range(4)))
        async with db.sessions() as session:
            tenants = (await session.execute(select(func.count()).select_from(Tenant))).scalar()
    assert sum(m is not None for m in made) == 1 and tenants == 1


async def test_a_nul_character_is_the_clients_error_not_a_500(live: LiveApp) -> None:
    """PostgreSQL refuses NUL in text: an id in the path or a name in the body was a 500
    (and the SQL, with its parameters, went to the error log). SQLite stores it."""
    headers = live.auth(live.tenancy.member_a)
    postgres = live.app.state.platform.db.engine.dialect.name == "postgresql"
    got = await live.client.get("/v1/drive/shares/shr_a%00b", headers=headers)
    assert_problem(got, 400 if postgres else 404, "bad_request" if postgres else "unknown_share")
    made = await live.client.post("/v1/drive/shares", json={"name": "a\u0000b"}, headers=headers)
    if postgres:
        assert_problem(made, 400, "bad_request")
        assert "NUL" in made.json()["detail"]
    else:
        assert made.status_code == 201, made.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/auth/tokens", {"ttl_second": 60}),  # a misspelt ttl_seconds
        (
            "/v1/modules/scaispeak/policy",
            {"allowed_backends": ["selfhosted"], "default_backend": "selfhosted", "failovr": False},
        ),
    ],
)
async def test_a_misspelt_field_is_refused_not_ignored(
    sqlite_app: LiveApp, path: str, body: dict[str, object]
) -> None:
    """A token asked for 60 s lived the default 300 s; a policy asked to fail over never
    kept failing over: the unknown field was dropped without a word."""
    method = sqlite_app.client.post if path.endswith("tokens") else sqlite_app.client.put
    answer = await method(path, json=body, headers=sqlite_app.auth(sqlite_app.tenancy.admin_a))
    assert_problem(answer, 422, "validation_error")
