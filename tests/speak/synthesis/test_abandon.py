"""Work a caller abandons: a result made anyway as the request is cancelled is closed,
not dropped (an upstream's open answer holds a connection and the circuit's permit)."""

from __future__ import annotations

import asyncio

import pytest

from scaispeak.speak.errors import CallerGone
from scaispeak.speak.synthesis.abandon import unless_abandoned


async def test_a_result_made_as_the_request_is_cancelled_is_discarded() -> None:
    made: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    discarded: list[str] = []

    async def discard(result: str) -> None:
        discarded.append(result)

    request = asyncio.create_task(unless_abandoned(made, asyncio.Event(), discard))
    await asyncio.sleep(0)  # the request waits for the work
    made.set_result("an open answer")  # the work finishes...
    request.cancel()  # ...in the same turn as the request is cancelled
    with pytest.raises(asyncio.CancelledError):
        await request
    assert discarded == ["an open answer"]


async def test_work_cancelled_before_it_made_anything_discards_nothing() -> None:
    discarded: list[str] = []

    async def discard(result: str) -> None:
        discarded.append(result)

    async def slow() -> str:
        await asyncio.sleep(10)
        return "never"

    gone = asyncio.Event()
    request = asyncio.create_task(unless_abandoned(slow(), gone, discard))
    await asyncio.sleep(0)
    gone.set()
    with pytest.raises(CallerGone):
        await request
    assert discarded == []
