"""Browser tokens: they open streams and speak, never manage, and die with their key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from scaispeak.platform.db import utcnow
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.support.server import free_port, printed_key, wait_ready

SPEAK = "/v1/modules/scaispeak/speak"
VOICES = "/v1/modules/scaispeak/voices"
JOE = "voc_piper_en-us-joe-medium"
EXE = str(Path(sys.executable).parent / "scaispeak")


async def browser_token(live: LiveApp, api_key: str) -> str:
    made = await live.client.post("/v1/auth/tokens", json={}, headers=live.auth(api_key))
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def issue_key(live: LiveApp, user_id: str) -> dict[str, str]:
    """Another key for a user who has one, minted by that user (docs/auth.md)."""
    holder = {live.tenancy.member_a_user: live.tenancy.member_a}[user_id]
    made = await live.client.post(f"/v1/users/{user_id}/keys", json={}, headers=live.auth(holder))
    assert made.status_code == 201
    return dict(made.json())


def management_routes(live: LiveApp) -> list[tuple[str, str, object]]:
    t = live.tenancy
    return [
        ("POST", "/v1/auth/tokens", {}),
        ("POST", f"/v1/users/{t.member_a_user}/keys", {"name": "lasting"}),
        ("GET", f"/v1/users/{t.member_a_user}/keys", None),
        ("DELETE", "/v1/keys/key_anything", None),
        ("POST", "/v1/tenants", {"name": "minted"}),
        ("GET", "/v1/tenants", None),
        ("POST", f"/v1/tenants/{t.tenant_a}/users", {"email": "tok@acme.com"}),
        ("GET", f"/v1/tenants/{t.tenant_a}/users", None),
        ("PUT", f"/v1/tenants/{t.tenant_a}/budget", {"limit_micros": 10**15}),
        ("GET", f"/v1/tenants/{t.tenant_a}/budget", None),
        ("GET", "/v1/modules/scaispeak/jobs/webhook-secret", None),  # it signs events
        ("POST", "/v1/modules/scaispeak/jobs/webhook-secret/rotate", None),
        # A share's members: a role granted with a token outlasted the token.
        ("PUT", f"/v1/drive/shares/shr_any/members/{t.member_a_user}", {"role": "owner"}),
        ("DELETE", f"/v1/drive/shares/shr_any/members/{t.member_a_user}", None),
        # Voice management: edits, deletion and consent decisions (revoking deletes
        # the reference audio for good).
        ("PATCH", f"{VOICES}/voc_any", {"name": "renamed"}),
        ("DELETE", f"{VOICES}/voc_any", None),
        ("POST", f"{VOICES}/voc_any/promotion/agree", None),
        ("POST", f"{VOICES}/voc_any/promote", None),
        ("POST", f"{VOICES}/voc_any/consent/revoke", {"reason": "gone"}),
        ("POST", f"{VOICES}/voc_any/consent/approve", {"note": ""}),
        # Stored work: a leaked token must not be able to wipe it (helper-90).
        ("DELETE", "/v1/drive/shares/shr_any/files/kept.wav", None),
        ("DELETE", "/v1/modules/scaispeak/jobs/job_any/audio", None),
    ]


@pytest.mark.parametrize("sent_as", ["query", "bearer"])
async def test_browser_token_is_refused_on_credential_user_tenant_and_budget_routes(
    live: LiveApp, sent_as: str
) -> None:
    """Even a superadmin's token: it must not mint lasting keys or renew itself."""
    token = await browser_token(live, live.tenancy.superadmin)
    for method, path, body in management_routes(live):
        if sent_as == "query":
            response = await live.client.request(method, path, json=body, params={"token": token})
        else:
            response = await live.client.request(method, path, json=body, headers=live.auth(token))
        assert_problem(response, 403, "browser_token_not_allowed")


async def test_browser_token_speaks_and_reads_who_it_is(live: LiveApp) -> None:
    token = await browser_token(live, live.tenancy.member_a)
    me = await live.client.get("/v1/auth/me", params={"token": token})
    assert me.status_code == 200 and me.json()["user_id"] == live.tenancy.member_a_user
    spoken = await live.client.post(
        SPEAK, json={"text": "Spoken with a token.", "voice_id": JOE}, params={"token": token}
    )
    assert spoken.status_code == 200, spoken.text


async def test_an_api_key_in_the_url_is_refused(live: LiveApp) -> None:
    """URLs end up in proxy and browser logs; a browser token expires, a key does not."""
    key = live.tenancy.member_a
    refused = await live.client.get(f"/v1/auth/me?token={key}")
    assert_problem(refused, 401, "unauthorized")
    token = await browser_token(live, key)
    assert (await live.client.get(f"/v1/auth/me?token={token}")).status_code == 200


async def test_browser_token_dies_with_the_key_that_issued_it(live: LiveApp) -> None:
    key = await issue_key(live, live.tenancy.member_a_user)
    token = await browser_token(live, key["secret"])
    assert (await live.client.get("/v1/auth/me", params={"token": token})).status_code == 200
    revoked = await live.client.delete(
        f"/v1/keys/{key['id']}", headers=live.auth(live.tenancy.admin_a)
    )
    assert revoked.status_code == 200
    assert_problem(
        await live.client.get("/v1/auth/me", params={"token": token}), 401, "unauthorized"
    )
    spoken = await live.client.post(
        SPEAK, json={"text": "Not any more.", "voice_id": JOE}, headers=live.auth(token)
    )
    assert_problem(spoken, 401, "unauthorized")


async def test_token_that_names_no_issuing_key_is_refused(live: LiveApp) -> None:
    """Well signed and unexpired, but without the key it came from: it cannot be revoked."""
    signing_key = live.app.state.platform.signing_key
    claims = {
        "sub": live.tenancy.member_a_user,
        "tid": live.tenancy.tenant_a,
        "role": "member",
        "aud": "scaispeak-browser",
        "exp": utcnow() + timedelta(minutes=5),
    }
    keyless = jwt.encode(claims, signing_key, algorithm="HS256")
    assert_problem(
        await live.client.get("/v1/auth/me", params={"token": keyless}), 401, "unauthorized"
    )


def test_served_requests_are_logged_without_their_token(tmp_path: Path) -> None:
    """`scaispeak serve` logs each request once, by route template: a ``?token=`` in the
    URL (the stream demo page, WebSockets) never reaches the logs."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "SCAISPEAK_DATA_DIR": str(tmp_path / "data")}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [EXE, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            key = printed_key(server)
            wait_ready(base)
            made = httpx.post(
                f"{base}/v1/auth/tokens", json={}, headers={"Authorization": f"Bearer {key}"}
            )
            token = made.json()["token"]
            assert httpx.get(f"{base}/v1/auth/me", params={"token": token}).status_code == 200
        finally:
            server.terminate()
            server.wait(timeout=30)
    logged = log_path.read_text()
    assert token not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(r.get("route") == "/v1/auth/me" and r.get("status") == 200 for r in lines)


def module_admin_routes() -> list[tuple[str, str]]:
    m = "/v1/modules/scaispeak"
    return [
        ("PUT", f"{m}/policy"),
        ("PUT", f"{m}/provenance/policy"),
        ("POST", f"{m}/voices/global"),
        ("PATCH", f"{m}/voices/global/voc_anything"),
        ("PUT", f"{m}/voices/global/voc_anything/licence/proof"),
        ("GET", f"{m}/voices/global/voc_anything/licence/proof"),
        ("POST", f"{m}/voices/voc_anything/promote"),
        ("POST", f"{m}/voices/voc_anything/consent/approve"),
        ("POST", f"{m}/voices/voc_anything/consent/reject"),
    ]


@pytest.mark.parametrize(("method", "path"), module_admin_routes())
async def test_browser_token_is_refused_on_tenant_and_platform_administration(
    live: LiveApp, method: str, path: str
) -> None:
    """Tenant policy, global voices and their licences, promotion and consent decisions
    are decisions an operator makes with a key, not a page holding a 300 s token."""
    token = await browser_token(live, live.tenancy.superadmin)
    response = await live.client.request(method, path, json={}, params={"token": token})
    assert_problem(response, 403, "browser_token_not_allowed")


def test_a_token_issued_by_a_replica_whose_clock_runs_ahead_is_taken() -> None:
    """A page gets its token from one replica and opens its stream on another whose
    clock is a moment behind: the token's iat was "in the future" there, a 401."""
    from scaispeak.platform.auth.tokens import verify_browser_token

    key = "s" * 32
    ahead = utcnow() + timedelta(seconds=5)
    claims = {
        "sub": "usr_1",
        "kid": "key_1",
        "scope": "browser",
        "aud": "scaispeak-browser",
        "exp": ahead + timedelta(minutes=10),
        "iat": ahead,
    }
    token = jwt.encode(claims, key, algorithm="HS256")
    assert verify_browser_token(token, key).user_id == "usr_1"


async def test_a_browser_token_creates_drive_files_but_never_replaces_one(live: LiveApp) -> None:
    """Refusing its DELETE protected nothing while an empty PUT over the file, or a
    save_to with overwrite, wiped it just the same (helper-91)."""
    key = live.tenancy.member_a
    share = await live.client.post("/v1/drive/shares", json={"name": "t"}, headers=live.auth(key))
    files = f"/v1/drive/shares/{share.json()['id']}/files"
    token = await browser_token(live, key)
    made = await live.client.put(f"{files}/new.txt", content=b"mine", params={"token": token})
    assert made.status_code == 201, made.text
    over = await live.client.put(f"{files}/new.txt", content=b"", params={"token": token})
    assert_problem(over, 403, "browser_token_not_allowed")
    target = {"share_id": share.json()["id"], "path": "new.txt", "overwrite": True}
    saved = await live.client.post(
        SPEAK, json={"text": "Hi.", "voice_id": JOE, "save_to": target}, params={"token": token}
    )
    assert_problem(saved, 403, "browser_token_not_allowed")
    kept = await live.client.get(f"{files}/new.txt", headers=live.auth(key))
    assert kept.content == b"mine"
    replaced = await live.client.put(f"{files}/new.txt", content=b"", headers=live.auth(key))
    assert replaced.status_code == 200  # an API key still replaces it
