"""The per-process inference pool: engine calls off the event loop, by priority and fairly.

A fixed set of worker threads takes work from a bounded queue. The queue is ordered by
:class:`Priority` first; within one priority it serves *lanes* (one per stream or
request) round-robin, so a lane with many queued calls takes one turn and then waits
behind every other lane: one stream's long paragraph cannot starve another stream's
first clause. A call whose awaiting task is cancelled (barge-in, a disconnect) leaves
the queue at once; a call already running in a thread cannot be interrupted (the
engine is inside onnxruntime), so it finishes there and its result is dropped.

Because a running call cannot be pre-empted, ``reserved`` threads are kept for
first-audio work: normal and bulk calls never occupy them, so a stream's first clause
starts at once instead of waiting out another stream's long segment (it shares the
cores with that segment instead). With onnxruntime using every core per call, the
throughput this costs is small; ``scaispeak_inference_*`` gauges show the queue.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import Priority as Priority  # re-exported: callers queue by it
from scaispeak.speak.errors import ServerBusy

T = TypeVar("T")

DEFAULT_MAX_QUEUED = 256
"""Calls that may wait for a thread; each stream or request queues at most one at a time."""


@dataclass(eq=False)
class _Work:
    call: Callable[[], Any]
    future: Future[Any]
    priority: Priority
    lane: Hashable


class InferencePool:
    """Runs blocking engine calls in ``threads`` worker threads; see the module docstring.

    ``running`` counts calls executing in a thread, ``queued`` calls waiting for one,
    and ``pending`` both (the ``scaispeak_inference_pending`` gauge).
    """

    def __init__(
        self, threads: int, *, max_queued: int = DEFAULT_MAX_QUEUED, reserved: int = 0
    ) -> None:
        if threads < 1 or max_queued < 1:
            raise ValueError("an inference pool needs at least one thread and one queue slot")
        if not 0 <= reserved < threads:
            raise ValueError("reserved threads must leave at least one for other work")
        self.threads = threads
        self.max_queued = max_queued
        self.reserved = reserved
        self._cond = threading.Condition()
        # One ordered map of lanes per priority; a served lane moves to the back.
        self._lanes: list[OrderedDict[Hashable, deque[_Work]]] = [OrderedDict() for _ in Priority]
        self._queued = 0
        self._running = 0
        self._running_deferrable = 0  # normal and bulk calls running now
        self._workers: list[threading.Thread] = []
        self._closed = False

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def pending(self) -> int:
        return self._running + self._queued

    async def run(
        self,
        fn: Callable[..., T],
        *args: object,
        priority: Priority = Priority.NORMAL,
        lane: Hashable | None = None,
        **kwargs: object,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread and return its result.

        ``lane`` groups the calls of one stream for round-robin; calls without a lane
        each get their own. Raises :class:`ServerBusy` when the queue is full.
        """
        work = self._submit(partial(fn, *args, **kwargs), priority, lane)
        try:
            result: T = await asyncio.wrap_future(work.future)
        except asyncio.CancelledError:
            self._withdraw(work)
            raise
        return result

    def shutdown(self) -> None:
        """Drop queued calls, let running ones finish, and stop the threads."""
        with self._cond:
            self._closed = True
            for lanes in self._lanes:
                for queue in lanes.values():
                    for work in queue:
                        work.future.cancel()
                lanes.clear()
            self._queued = 0
            self._cond.notify_all()
        for worker in self._workers:
            worker.join()

    def _submit(self, call: Callable[[], Any], priority: Priority, lane: Hashable | None) -> _Work:
        work = _Work(call, Future(), priority, lane if lane is not None else object())
        with self._cond:
            if self._closed:
                raise ServerBusy("The inference pool is shutting down.")
            if self._queued >= self.max_queued:
                raise ServerBusy(
                    f"{self._queued} synthesis calls are already waiting; try again shortly."
                )
            lanes = self._lanes[priority]
            lanes.setdefault(work.lane, deque()).append(work)
            self._queued += 1
            # Threads start on first use, so apps that never serve leave none behind.
            if len(self._workers) < self.threads:
                self._start_worker()
            self._cond.notify()
        return work

    def _start_worker(self) -> None:
        name = f"inference-{len(self._workers)}"
        worker = threading.Thread(target=self._work_loop, name=name, daemon=True)
        self._workers.append(worker)
        worker.start()

    def _withdraw(self, work: _Work) -> None:
        """Take a cancelled call out of the queue (a no-op once a thread has it)."""
        with self._cond:
            lanes = self._lanes[work.priority]
            queue = lanes.get(work.lane)
            if queue is None or work not in queue:
                return
            queue.remove(work)
            self._queued -= 1
            if not queue:
                del lanes[work.lane]

    def _take(self) -> _Work | None:
        """The next call to run, with the lock held; None when nothing may start now."""
        deferrable_full = self._running_deferrable >= self.threads - self.reserved
        for priority, lanes in zip(Priority, self._lanes, strict=True):
            if priority is not Priority.FIRST_AUDIO and deferrable_full:
                return None  # the remaining threads are kept for first audio
            if lanes:
                lane, queue = next(iter(lanes.items()))
                work = queue.popleft()
                self._queued -= 1
                if queue:
                    lanes.move_to_end(lane)
                else:
                    del lanes[lane]
                return work
        return None

    def _work_loop(self) -> None:
        while True:
            with self._cond:
                work = self._take()
                while work is None:
                    if self._closed:
                        return
                    self._cond.wait()
                    work = self._take()
                # False when the caller gave up between queueing and now: skip it.
                if not work.future.set_running_or_notify_cancel():
                    continue
                self._running += 1
                deferrable = work.priority is not Priority.FIRST_AUDIO
                self._running_deferrable += deferrable
            result: Any = None
            error: BaseException | None = None
            try:
                result = work.call()
            except BaseException as exc:  # handed to the awaiting caller, not lost
                error = exc
            # Counted out before the caller wakes, so it never sees its own call running.
            with self._cond:
                self._running -= 1
                self._running_deferrable -= deferrable
                if deferrable and self.reserved:
                    self._cond.notify()  # a thread held back for first audio may take it
            if error is not None:
                work.future.set_exception(error)
            else:
                work.future.set_result(result)


def inference_pool(settings: EngineSettings) -> InferencePool:
    """The process's pool as configured (first-audio reservation capped to leave a thread)."""
    threads = settings.inference_threads
    reserved = min(settings.first_audio_reserved_threads, threads - 1)
    return InferencePool(threads, reserved=reserved)
