"""Waiting for what another task or process commits a moment later."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    """Await ``check`` every 0.1 s until it holds; fail after ``seconds``."""
    for _ in range(max(1, int(seconds * 10))):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")
