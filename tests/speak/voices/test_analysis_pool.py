"""The voice-analysis pool counts a call until its work is done: a caller that stops
waiting (a client that disconnected) does not free a thread that is still busy."""

from __future__ import annotations

import asyncio
import threading

import pytest

from scaispeak.speak.voices.analysis import AnalysisPool
from scaispeak.speak.voices.errors import AnalysisBusy


async def test_a_cancelled_wait_keeps_its_place_until_the_work_ends() -> None:
    pool = AnalysisPool(threads=1, max_waiting=0)
    release, started = threading.Event(), threading.Event()

    def busy() -> str:
        started.set()
        release.wait(10)
        return "done"

    try:
        waiter = asyncio.create_task(pool.run(busy))
        assert await asyncio.to_thread(started.wait, 10)
        waiter.cancel()  # the client went away; its thread cannot be stopped
        await asyncio.gather(waiter, return_exceptions=True)
        assert pool.admitted == 1
        with pytest.raises(AnalysisBusy):
            await pool.run(busy)
        release.set()
        for _ in range(100):
            if pool.admitted == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.admitted == 0
        assert await pool.run(lambda: "next") == "next"
    finally:
        release.set()
        pool.shutdown()
