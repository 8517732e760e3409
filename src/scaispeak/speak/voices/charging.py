"""What a voice clone costs (``SCAISPEAK_VOICES__CLONE_PRICE_MICROS``).

The price is held against the tenant's budget before an intake's work (its analysis
takes seconds of CPU: a tenant over budget is refused first, 402), charged as a
``clone`` line in the usage ledger once the voice is made, and given back when the
intake is refused or fails. A price of 0 still writes the line: every clone is
accounted, whatever it costs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.speak.voices.models import CLONE_ENGINE, Voice

_log = logging.getLogger(__name__)

MadeVoice = tuple[Voice, float]
"""The voice an intake made and the seconds of reference speech it was made from."""


async def charged(
    session: AsyncSession,
    principal: Principal,
    price_micros: int,
    make: Callable[[], Awaitable[MadeVoice]],
) -> Voice:
    """Run the intake ``make`` under a hold of ``price_micros``; charge it when a voice
    was made. A charge that fails is logged, not raised: the voice exists, and saying
    otherwise would have the caller clone it twice."""
    if price_micros:
        reservation = await accounting.reserve(session, principal, price_micros)
    else:  # free: recorded, never refused (a tenant past its budget may still clone)
        reservation = accounting.unbudgeted_hold(principal, 0, utcnow())
    held = reservation.id  # read now: a failed flush leaves the instance unreadable
    try:
        voice, seconds = await make()
    except BaseException:
        await accounting.release_after_failure(session, reservation, held)
        raise
    charge = accounting.Charge(voice.id, CLONE_ENGINE, "clone", 0, seconds, price_micros, held)
    try:
        await accounting.settle_or_release(session, reservation, charge)
    except Exception:
        _log.exception("voice %s was made but its clone charge failed", voice.id)
    return voice
