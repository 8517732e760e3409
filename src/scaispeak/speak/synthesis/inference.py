"""A bounded pool that runs blocking engine calls off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

T = TypeVar("T")


class InferencePool:
    """Runs engine inference in worker threads; at most ``threads`` calls at once.

    onnxruntime releases the GIL while it computes, so threads give real parallelism.
    Calls beyond the thread count wait in the executor's queue; ``pending`` exposes
    how many are in flight or waiting (the queue-depth metric).
    """

    def __init__(self, threads: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="inference")
        self.pending = 0

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        self.pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))
        finally:
            self.pending -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
