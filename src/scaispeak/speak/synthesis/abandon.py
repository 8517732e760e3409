"""Work a caller may abandon: an inline request whose caller hangs up before its
audio is made stops there rather than speaking, for nobody, what it asked for (and
holding its tenant's slot and the inference pool meanwhile)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from scaispeak.speak.errors import CallerGone

T = TypeVar("T")


async def unless_abandoned(
    work: Awaitable[T],
    abandoned: asyncio.Event | None,
    discard: Callable[[T], Awaitable[None]] | None = None,
) -> T:
    """``work``'s result, or ``CallerGone`` once ``abandoned`` is set first (``work``
    cancelled: a segment already in its engine ends there, no further one starts).
    ``discard`` closes a result that was made anyway as the request was cancelled (an
    upstream's open answer would otherwise hold its connection and circuit permit)."""
    if abandoned is None:
        return await work
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(abandoned.wait())
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # this request itself was cancelled
        await _stopped(task, discard)
        raise
    finally:
        gone.cancel()
    if not task.done():
        await _stopped(task, discard)
        raise CallerGone("The caller disconnected before the audio was made.")
    return task.result()


async def _stopped(task: asyncio.Future[T], discard: Callable[[T], Awaitable[None]] | None) -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        made = await task
        if discard is not None:
            await discard(made)
