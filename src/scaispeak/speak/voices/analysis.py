"""A small bounded pool for the CPU-heavy voice work: preflight, recognition, fitting.

Analyses and builds get threads of their own so a minute-long embedding fit never
queues behind (or in front of) synthesis in the inference pool. The pool refuses
work beyond its threads plus ``max_waiting`` (503 with Retry-After) rather than
letting a queue grow without bound.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from scaispeak.speak.voices.errors import AnalysisBusy

T = TypeVar("T")


class AnalysisPool:
    def __init__(self, threads: int, max_waiting: int, *, name: str = "voice-analysis") -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=name)
        self._capacity = max(1, threads) + max(0, max_waiting)
        self._admitted = 0
        self._lock = threading.Lock()  # the count drops in the pool's threads

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` in a pool thread; ``AnalysisBusy`` when the pool is full.

        A call counts until its work has finished, not until its caller stops waiting:
        a client that disconnects cancels the wait, but a thread cannot be stopped, and
        counting only waiters let disconnecting clients queue work without bound."""
        with self._lock:
            if self._admitted >= self._capacity:
                raise AnalysisBusy("Voice analysis is busy; try again in a few seconds.")
            self._admitted += 1
        try:
            work = self._executor.submit(functools.partial(fn, *args))
        except BaseException:
            self._finished()
            raise
        work.add_done_callback(self._finished)  # ran, or cancelled before it started
        return await asyncio.wrap_future(work)

    def _finished(self, _work: object = None) -> None:
        with self._lock:
            self._admitted -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
