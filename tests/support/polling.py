"""Waiting for what another task, thread or process changes a moment later."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    what: str,
    seconds: float = 10,
    every: float = 0.1,
) -> None:
    """Call ``check`` (plain or async) every ``every`` s until it holds; fail after ``seconds``.

    For state with no event to await: a row another process commits, a count another
    thread changes.
    """
    for _ in range(max(1, round(seconds / every))):
        answer = check()
        if await answer if inspect.isawaitable(answer) else answer:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")
