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
    async with db.sessions() as session:
        released = await release_stale(session, timedelta(seconds=settings.stale_reservation_s))
    if released:
        _log.warning("released %d budget holds that nothing renewed", released)
    return released


async def sweep_stale_holds_forever(db: Database, settings: AccountingSettings) -> None:
    while True:
        await asyncio.sleep(settings.hold_sweep_interval_s)
        try:
            await sweep_stale_holds(db, settings)
        except Exception:  # the sweeper must outlive a database hiccup
            _log.exception("stale-hold sweep failed")
