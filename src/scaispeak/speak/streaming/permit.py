"""What a stream was allowed at ``start``, checked again while it speaks.

A stream may talk for hours, and ``start`` checked its voice and credentials once.
Consent revoked for a cloned voice (on any replica), a global voice's licence running
out, the API key behind the stream revoked, or the tenant's policy withdrawing the
backend the stream speaks through (text must stop going to a relay) must end it, not
only refuse the next request: before a segment is spoken, at most every ``every_s``
seconds, the permit is read again from the database, and a withdrawn one ends the
stream with the error a new request would get.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import ApiKey
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database
from scaispeak.platform.errors import Unauthorized
from scaispeak.speak.backends.models import TenantPolicy
from scaispeak.speak.errors import BackendNotAllowed
from scaispeak.speak.voices.models import Voice
from scaispeak.speak.voices.standing import ensure_still_usable


@dataclass
class StreamPermit:
    db: Database
    principal: Principal
    every_s: float = 5.0
    voice_id: str = ""
    """Set when the stream starts."""
    backend: str = ""
    """The backend the stream's route goes through; set when it starts."""
    _checked_at: float = field(default=-math.inf, init=False)

    async def check(self) -> None:
        """Raise what a new request would get once the stream's permit is withdrawn."""
        now = time.monotonic()
        if not self.voice_id or now - self._checked_at < self.every_s:
            return
        self._checked_at = now
        async with self.db.sessions() as session:
            voice = await session.get(Voice, self.voice_id)
            key_revoked = await _key_revoked(session, self.principal.key_id)
            policy = await session.get(TenantPolicy, self.principal.tenant_id)
        if key_revoked:
            raise Unauthorized("The API key behind this stream was revoked.")
        ensure_still_usable(voice, self.voice_id, "the stream")
        # No row: the deployment's default, which allows every backend (as for jobs).
        if policy is not None and self.backend not in policy.allowed_backends:
            raise BackendNotAllowed(
                f"Your tenant's policy no longer allows the {self.backend} backend this"
                " stream speaks through."
            )


async def _key_revoked(session: AsyncSession, key_id: str | None) -> bool:
    if key_id is None:
        return False
    revoked = await session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key_id))
    return revoked is not None
