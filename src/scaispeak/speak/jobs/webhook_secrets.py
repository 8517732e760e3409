"""Each user's webhook signing secrets, and their rotation.

Secrets are derived, never stored (webhooks.webhook_secret): what is kept is which
version is current. A rotation moves to the next one; for a grace after it (at most
``ROTATION_GRACE``), events are signed with both the new and the replaced secret (two
``v1=`` in the header), so a receiver that checks every ``v1`` can switch without
refusing events sent meanwhile. A receiver that keeps only one ``v1`` (a dict of the
header's parts) can rotate with no grace instead. A second rotation within a grace ends
the first's: only the secret it replaced stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import as_utc, utcnow
from scaispeak.platform.errors import Conflict
from scaispeak.speak.jobs.models import WebhookSecretVersion
from scaispeak.speak.jobs.webhooks import webhook_secret

ROTATION_GRACE = timedelta(hours=24)


class RotationRace(Conflict):
    code, title = "webhook_secret_rotating", "Webhook secret rotating"
    retry_after = 1


@dataclass(frozen=True)
class SigningSecrets:
    current: str
    previous: str | None = None
    """The secret the last rotation replaced, while its grace lasts."""
    previous_valid_until: datetime | None = None

    def all(self) -> list[str]:
        return [self.current] + ([self.previous] if self.previous else [])


async def secrets_of(
    session: AsyncSession, signing_key: str, tenant_id: str, user_id: str
) -> SigningSecrets:
    row = await session.get(WebhookSecretVersion, user_id, populate_existing=True)
    version = row.version if row is not None and row.tenant_id == tenant_id else 0
    current = webhook_secret(signing_key, tenant_id, user_id, version)
    if row is None or version == 0 or row.previous_valid_until is None:
        return SigningSecrets(current)
    until = as_utc(row.previous_valid_until)
    if until <= utcnow():
        return SigningSecrets(current)
    previous = webhook_secret(signing_key, tenant_id, user_id, version - 1)
    return SigningSecrets(current, previous, until)


async def rotate(
    session: AsyncSession, signing_key: str, caller: Principal, grace: timedelta = ROTATION_GRACE
) -> SigningSecrets:
    """Move the caller to their next secret; the one replaced stays valid for ``grace``."""
    now = utcnow()
    until = now + min(grace, ROTATION_GRACE) if grace > timedelta(0) else None
    row = await session.get(WebhookSecretVersion, caller.user_id, with_for_update=True)
    if row is None:
        row = WebhookSecretVersion(user_id=caller.user_id, tenant_id=caller.tenant_id, version=0)
        session.add(row)
    row.version += 1
    row.rotated_at, row.previous_valid_until = now, until
    try:
        await session.commit()
    except IntegrityError:  # a first rotation of the same user landed meanwhile
        await session.rollback()
        raise RotationRace("The secret is being rotated by another request; retry.") from None
    return await secrets_of(session, signing_key, caller.tenant_id, caller.user_id)
