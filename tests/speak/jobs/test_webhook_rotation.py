"""A user's webhook secret can be rotated after a leak, without a gap at the receiver.

The secret was derived from the deployment key and the user's ids alone: replacing a
leaked one meant rotating the key that every secret and browser token hangs on
(helper-90).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from datetime import timedelta

from sqlalchemy import update

from scaispeak.platform.db import utcnow
from scaispeak.speak.jobs.models import WebhookSecretVersion
from scaispeak.speak.jobs.webhook_secrets import ROTATION_GRACE
from scaispeak.speak.jobs.webhooks import sign, verify, webhook_secret
from tests.conftest import LiveApp
from tests.speak.jobs.conftest import Received
from tests.speak.jobs.support import secret_of
from tests.speak.jobs.test_jobs_embedded import submit, wait_for

SECRET = "/v1/modules/scaispeak/jobs/webhook-secret"


async def rotate(app: LiveApp, key: str, **params: int) -> dict[str, object]:
    answer = await app.client.post(f"{SECRET}/rotate", params=params, headers=app.auth(key))
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def delivered(app: LiveApp, url: str, received: Received) -> tuple[bytes, str]:
    received.clear()
    job = (await submit(app, text="Short.", webhook_url=url)).json()
    await wait_for(app, job["id"], {"succeeded"})
    for _ in range(100):
        if received:
            return received[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no event came")


async def test_a_rotation_signs_with_both_secrets_through_its_grace(
    loopback_hooks_app: LiveApp, receiver: tuple[str, Received]
) -> None:
    app, (url, received) = loopback_hooks_app, receiver
    member = app.tenancy.member_a
    old = await secret_of(app, member)
    assert await secret_of(app, member) == old  # derived the same each time
    rotated = await rotate(app, member)
    new = rotated["secret"]
    assert isinstance(new, str) and new != old
    assert rotated["previous_valid_until"] is not None
    assert await secret_of(app, member) == new
    body, signature = await delivered(app, url, received)
    assert signature.count("v1=") == 2
    assert verify(new, body, signature) and verify(old, body, signature)
    # The grace over, the replaced secret no longer signs.
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(WebhookSecretVersion).values(
                previous_valid_until=utcnow() - timedelta(seconds=1)
            )
        )
        await session.commit()
    body, signature = await delivered(app, url, received)
    assert verify(new, body, signature) and not verify(old, body, signature)
    assert (await app.client.get(SECRET, headers=app.auth(member))).json()[
        "previous_valid_until"
    ] is None


async def test_a_rotation_without_grace_signs_with_the_new_secret_alone(
    loopback_hooks_app: LiveApp, receiver: tuple[str, Received]
) -> None:
    """For a receiver that keeps one v1 of the header (a dict of its parts): with two,
    it read the replaced secret's (helper-91)."""
    app, (url, received) = loopback_hooks_app, receiver
    old = await secret_of(app, app.tenancy.member_a)
    rotated = await rotate(app, app.tenancy.member_a, grace_s=0)
    assert rotated["previous_valid_until"] is None
    body, signature = await delivered(app, url, received)
    assert signature.count("v1=") == 1
    assert verify(str(rotated["secret"]), body, signature) and not verify(old, body, signature)
    too_long = await app.client.post(
        f"{SECRET}/rotate",
        params={"grace_s": int(ROTATION_GRACE.total_seconds()) + 1},
        headers=app.auth(app.tenancy.member_a),
    )
    assert too_long.status_code == 422


def test_a_secret_never_rotated_is_derived_as_before_rotation_existed() -> None:
    """Receivers configured before rotation existed must keep verifying."""
    expected = hmac.new(b"key", b"webhook:ten_1:usr_1", "sha256").hexdigest()
    assert webhook_secret("key", "ten_1", "usr_1") == expected
    assert webhook_secret("key", "ten_1", "usr_1", 1) != expected


async def test_a_rotation_is_the_users_own(loopback_hooks_app: LiveApp) -> None:
    app = loopback_hooks_app
    colleague = await secret_of(app, app.tenancy.admin_a)
    first = await rotate(app, app.tenancy.member_a)
    second = await rotate(app, app.tenancy.member_a)
    assert first["secret"] != second["secret"]
    assert await secret_of(app, app.tenancy.admin_a) == colleague


def test_a_receiver_accepts_any_v1_of_its_secret_and_one_timestamp() -> None:
    now = int(time.time())
    header = sign(["new", "old"], b"{}", now)
    assert verify("new", b"{}", header) and verify("old", b"{}", header)
    assert not verify("other", b"{}", header)
    assert not verify("new", b"{}", f"t=1,{header}")  # a second, forged timestamp
    assert not verify("new", b"{}", sign(["new"], b"{}", now - 600))  # stale
    assert not verify("new", b"{}", header.replace(f"t={now}", "t=\u00b2"))  # not a number
