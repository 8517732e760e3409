"""A stream's permit is read again while it speaks: a voice withdrawn since ``start``
ends it with the error a new request would get."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.speak.errors import VoiceUnavailable
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
