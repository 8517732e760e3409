"""Give back budget holds that their work stopped renewing (a crashed process's).

Every API process sweeps, at start-up and then every ``hold_sweep_interval_s``: a
replica that crashed leaves holds that no restart of its own would ever find old
enough, and with several replicas nothing else would return them. A hold is stale
when it was neither made nor renewed for ``stale_reservation_s``; streams renew
theirs (streaming/billing.py) and jobs' holds are never swept. A stream records with
each renewal what it has delivered; its hold is settled for that, not given back: the
speech a crashed replica streamed is billed up to its last renewal (helper-95).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.models import Reservation, ReservationState
from scaispeak.platform.accounting.service import Charge, release, settle
from scaispeak.platform.db import Database, utcnow
from scaispeak.settings import AccountingSettings

_log = logging.getLogger(__name__)


async def release_stale(session: AsyncSession, older_than: timedelta) -> int:
    """Release request holds left by a crashed process: held, and neither made nor
    renewed for ``older_than`` (called at start-up and then periodically). One whose
    work recorded a delivery is settled for it instead.

    Jobs' holds are left alone: a job outlives processes, and releases its own hold.
    A hold released here while its work still runs is charged all the same when the
    work settles (service.settle).
    """
    cutoff = utcnow() - older_than
    stale = await session.execute(
        select(Reservation).where(
            Reservation.state == ReservationState.held,
            func.coalesce(Reservation.renewed_at, Reservation.created_at) < cutoff,
            Reservation.long_running.is_(False),
        )
    )
    count = 0
    # One commit per hold: a transaction over all of them would hold each one's row and
    # the tenant's counter row together, and two replicas sweeping at once (or a
    # settlement) could lock them in opposite orders and deadlock.
    for reservation in list(stale.scalars()):
        if await _settle_or_release(session, reservation):  # commits
            count += 1
    return count


async def _settle_or_release(session: AsyncSession, reservation: Reservation) -> bool:
    """Charge what the hold's work delivered before it stopped renewing, or give the
    hold back where it delivered nothing; whether this call did either."""
    if not reservation.delivered:
        return await release(session, reservation)
    charge = Charge.from_dict(reservation.delivered)
    line = await settle(session, reservation, charge)
    _log.warning(
        "charged %d characters that request %s delivered before its process stopped",
        line.characters,
        charge.request_id,
    )
    return True


async def sweep_stale_holds(db: Database, settings: AccountingSettings) -> int:
    """One sweep; returns how many holds it gave back. Never raises: a failed sweep
    (a database hiccup, a deadlock with another replica's) is only retried by the
    next, and must not stop the process from starting or serving."""
    older_than = timedelta(seconds=settings.stale_reservation_s)
    try:
        async with db.sessions() as session:
            released = await release_stale(session, older_than)
    except Exception:
        _log.exception("stale-hold sweep failed")
        return 0
    if released:
        _log.warning("settled or gave back %d budget holds that nothing renewed", released)
    return released


async def sweep_stale_holds_forever(db: Database, settings: AccountingSettings) -> None:
    while True:
        await asyncio.sleep(settings.hold_sweep_interval_s)
        await sweep_stale_holds(db, settings)
