"""A small bounded pool for the CPU-heavy voice work: preflight, recognition, fitting.

Analyses and builds get threads of their own so a minute-long embedding fit never
queues behind (or in front of) synthesis in the inference pool. The pool refuses
work beyond its threads plus ``max_waiting`` (503 with Retry-After) rather than
letting a queue grow without bound, and gives no one tenant more than ``per_owner`` of
those places (429), so one tenant's uploads cannot make every other tenant's 503.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from scaispeak.speak.voices.errors import AnalysisBusy, TenantAnalysesBusy

T = TypeVar("T")


class AnalysisPool:
    def __init__(
        self,
        threads: int,
        max_waiting: int,
        *,
        per_owner: int | None = None,
        name: str = "voice-analysis",
    ) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=name)
        self._capacity = max(1, threads) + max(0, max_waiting)
        self._per_owner = self._capacity if per_owner is None else max(1, per_owner)
        self._admitted = 0
        self._by_owner: Counter[str] = Counter()
        self._lock = threading.Lock()  # the count drops in the pool's threads

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], *args: object, owner: str) -> T:
        """Run ``fn(*args)`` in a pool thread for ``owner`` (a tenant); ``AnalysisBusy``
        when the pool is full, ``TenantAnalysesBusy`` when the owner holds its share.

        A call counts until its work has finished, not until its caller stops waiting:
        a client that disconnects cancels the wait, but a thread cannot be stopped, and
        counting only waiters let disconnecting clients queue work without bound."""
        with self._lock:
            if self._admitted >= self._capacity:
                raise AnalysisBusy("Voice analysis is busy; try again in a few seconds.")
            if self._by_owner[owner] >= self._per_owner:
                raise TenantAnalysesBusy(self._per_owner)
            self._admitted += 1
            self._by_owner[owner] += 1
        finished = functools.partial(self._finished, owner)
        try:
            work = self._executor.submit(functools.partial(fn, *args))
        except BaseException:
            finished()
            raise
        work.add_done_callback(finished)  # ran, or cancelled before it started
        return await asyncio.wrap_future(work)

    def _finished(self, owner: str, _work: object = None) -> None:
        with self._lock:
            self._admitted -= 1
            self._by_owner[owner] -= 1
            if not self._by_owner[owner]:
                del self._by_owner[owner]  # the counter stays as small as the busy owners

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
