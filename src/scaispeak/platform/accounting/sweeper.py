"""Give back budget holds that their work stopped renewing (a crashed process's).

Every API process sweeps, at start-up and then every ``hold_sweep_interval_s``: a
replica that crashed leaves holds that no restart of its own would ever find old
enough, and with several replicas nothing else would return them. A hold is stale
when it was neither made nor renewed for ``stale_reservation_s``; streams renew
theirs (streaming/billing.py) and jobs' holds are never swept.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from scaispeak.platform.accounting.service import release_stale
from scaispeak.platform.db import Database
from scaispeak.settings import AccountingSettings

_log = logging.getLogger(__name__)


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
        _log.warning("released %d budget holds that nothing renewed", released)
    return released


async def sweep_stale_holds_forever(db: Database, settings: AccountingSettings) -> None:
    while True:
        await asyncio.sleep(settings.hold_sweep_interval_s)
        await sweep_stale_holds(db, settings)
