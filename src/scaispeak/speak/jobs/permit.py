"""What a job was allowed when it was submitted, checked again while it runs.

A job may run for hours, or wait that long in the queue. Its voice withdrawn (consent
revoked, deleted) or out of licence, or its tenant's backend policy changed, must
stop it or change where it is sent, as for a new request: before a segment is
spoken, at most every ``every_s`` seconds, the voice and the policy are read again.
A voice out of licence or a policy that allows none of the job's backends fails the
job with the error a new request would get; a policy that allows fewer of them, or no
failover now, narrows the backends it may use. A withdrawn voice raises
``VoiceWithdrawn``, on which the runner cancels the job, as the withdrawal itself does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from scaispeak.platform.db import Database
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.backends.models import TenantPolicy
from scaispeak.speak.errors import BackendNotAllowed
from scaispeak.speak.voices.models import Voice
from scaispeak.speak.voices.standing import ensure_still_usable

RECHECK_S = 5.0
"""How often, at most, a running job reads its voice and policy again."""


@dataclass
class JobPermit:
    db: Database
    tenant_id: str
    voice_id: str
    routes: list[Route]
    """The job's backends in order, as planned at submit."""
    every_s: float = field(default_factory=lambda: RECHECK_S)
    _checked_at: float = field(default=-math.inf, init=False)

    async def routes_now(self) -> list[Route]:
        """The backends the job may use now; raises once it may not go on."""
        now = time.monotonic()
        if now - self._checked_at >= self.every_s:
            self._checked_at = now
            async with self.db.sessions() as session:
                voice = await session.get(Voice, self.voice_id)
                ensure_still_usable(voice, self.voice_id, "the job")
                policy = await session.get(TenantPolicy, self.tenant_id)
            if policy is not None:  # no row: the deployment's default, which allows all
                self.routes = allowed_by(policy, self.routes)
        return self.routes


def allowed_by(policy: TenantPolicy, routes: list[Route]) -> list[Route]:
    """``routes`` that ``policy`` allows, only the first of them without failover."""
    allowed = [r for r in routes if r.backend in policy.allowed_backends]
    if not allowed:
        raise BackendNotAllowed(
            "Your tenant's policy no longer allows the backends this job was to use."
        )
    return allowed if policy.failover else allowed[:1]
