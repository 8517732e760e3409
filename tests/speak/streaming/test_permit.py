"""A stream's permit is read again while it speaks: a voice withdrawn since ``start``
ends it with the error a new request would get."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.speak.errors import BackendNotAllowed, VoiceUnavailable
from scaispeak.speak.streaming.permit import StreamPermit
from scaispeak.speak.voices.models import Voice
from tests.conftest import LiveApp

JOE = "voc_piper_en-us-joe-medium"


async def test_a_voice_withdrawn_since_start_ends_the_stream(sqlite_app: LiveApp) -> None:
    db = sqlite_app.app.state.platform.db
    caller = Principal(sqlite_app.tenancy.member_a_user, sqlite_app.tenancy.tenant_a, Role.member)
    permit = StreamPermit(db, caller, every_s=0.0, voice_id=JOE)
    await permit.check()  # still allowed
    async with db.sessions() as session:
        await session.execute(update(Voice).where(Voice.id == JOE).values(revoked_at=utcnow()))
        await session.commit()
    with pytest.raises(VoiceUnavailable) as ended:
        await permit.check()
    assert ended.value.status == 409 and JOE in ended.value.detail


async def test_a_backend_the_policy_withdraws_since_start_ends_the_stream(
    sqlite_app: LiveApp,
) -> None:
    """Text went on to the relay after the tenant's admin forbade it (jobs stopped)."""
    t = sqlite_app.tenancy
    db = sqlite_app.app.state.platform.db
    caller = Principal(t.member_a_user, t.tenant_a, Role.member)
    permit = StreamPermit(db, caller, every_s=0.0, voice_id=JOE, backend="relay")
    await permit.check()  # no policy stored: the deployment's default allows it
    forbidden = await sqlite_app.client.put(
        "/v1/modules/scaispeak/policy",
        json={"allowed_backends": ["selfhosted"], "default_backend": "selfhosted"},
        headers=sqlite_app.auth(t.admin_a),
    )
    assert forbidden.status_code == 200, forbidden.text
    with pytest.raises(BackendNotAllowed) as ended:
        await permit.check()
    assert ended.value.status == 403
    permit.backend = "selfhosted"
    await permit.check()  # a stream on an allowed backend goes on
