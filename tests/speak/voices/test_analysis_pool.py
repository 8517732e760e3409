"""The voice-analysis pool counts a call until its work is done: a caller that stops
waiting (a client that disconnected) does not free a thread that is still busy."""

from __future__ import annotations

import asyncio
import threading

import pytest

from scaispeak.speak.voices.analysis import AnalysisPool
from scaispeak.speak.voices.errors import AnalysisBusy, TenantAnalysesBusy


async def test_a_cancelled_wait_keeps_its_place_until_the_work_ends() -> None:
    pool = AnalysisPool(threads=1, max_waiting=0)
    release, started = threading.Event(), threading.Event()

    def busy() -> str:
        started.set()
        release.wait(10)
        return "done"

    try:
        waiter = asyncio.create_task(pool.run(busy, owner="acme"))
        assert await asyncio.to_thread(started.wait, 10)
        waiter.cancel()  # the client went away; its thread cannot be stopped
        await asyncio.gather(waiter, return_exceptions=True)
        assert pool.admitted == 1
        with pytest.raises(AnalysisBusy):
            await pool.run(busy, owner="acme")
        release.set()
        for _ in range(100):
            if pool.admitted == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.admitted == 0
        assert await pool.run(lambda: "next", owner="acme") == "next"
    finally:
        release.set()
        pool.shutdown()


async def test_one_tenant_cannot_fill_the_pool_for_the_others() -> None:
    pool = AnalysisPool(threads=1, max_waiting=3, per_owner=2)
    release = threading.Event()
    try:
        held = [asyncio.create_task(pool.run(release.wait, 10, owner="acme")) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(TenantAnalysesBusy) as refused:
            await pool.run(release.wait, 10, owner="acme")
        assert refused.value.status == 429 and refused.value.headers["Retry-After"]
        assert pool.admitted == 2  # the refusal took no place
        other = asyncio.create_task(pool.run(lambda: "globex's", owner="globex"))
        release.set()
        assert await other == "globex's"
        assert await asyncio.gather(*held) == [True, True]
        assert await pool.run(lambda: "again", owner="acme") == "again"  # its share came back
    finally:
        release.set()
        pool.shutdown()
