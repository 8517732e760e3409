"""The per-process inference pool: engine calls off the event loop, by priority and fairly.

A fixed set of worker threads takes work from a bounded queue. The queue is ordered by
:class:`Priority` first; within one priority it serves tenants round-robin, and within
a tenant its *lanes* (one per stream, request or job) round-robin, so a lane with many
queued calls takes one turn and then waits behind every other lane: one stream's long
paragraph cannot starve another stream's first clause, and a tenant with many requests
running takes one turn in each round of the tenants, not one per request. A call whose
awaiting task is cancelled (barge-in, a disconnect) leaves the queue at once; a call
already running in a thread cannot be interrupted (the engine is inside onnxruntime),
so it finishes there and its result is dropped. Until it has, its lane runs nothing
else: a stream that barged in twice had its two abandoned calls and its new one
running together, every thread taken, and other streams' first audio waited 25 s; now
it waits for its own abandoned call instead.

Because a running call cannot be pre-empted, ``reserved`` threads are kept for
first-audio work: normal and bulk calls never occupy them, so a stream's first clause
starts at once instead of waiting out another stream's long segment (it shares the
cores with that segment instead). With onnxruntime using every core per call, the
throughput this costs is small; ``scaispeak_inference_*`` gauges show the queue.

Due-soon work (the rest of an opened segment) may not use a reserved thread either, so
an opening first *holds* a thread outside the reservation for its rest
(:meth:`InferencePool.hold_thread_for_due_soon`): normal and bulk calls cannot take it
while the head is made and sent, and the rest starts as soon as it is asked for.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
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
"""Interactive calls that may wait for a thread; each stream or request queues at most one
at a time. Bulk calls are not counted (see ``_submit``)."""

MAX_RETRY_AFTER_S = 30
"""Longest ``Retry-After`` a refusal suggests, however long the queue would take."""

_MEAN_WEIGHT = 0.2
"""Weight of the newest call in the running mean call time behind ``Retry-After``."""


class InferencePoolClosed(ServerBusy):
    """The pool is shutting down with its process: nothing more will run here."""


@dataclass(eq=False)
class ThreadHold:
    """A thread outside the first-audio reservation, kept for one due-soon call."""


@dataclass(frozen=True)
class Lane:
    """A lane of a tenant: calls of the same lane run one at a time, in turn with the
    tenant's other lanes, which take turns with other tenants' (see the module)."""

    tenant: str
    key: Hashable


@dataclass(eq=False)
class _Work:
    call: Callable[[], Any]
    future: Future[Any]
    priority: Priority
    lane: Hashable

    @property
    def group(self) -> Hashable:
        """Whose turn this call takes: its lane's tenant, or a lane of no tenant alone."""
        return self.lane.tenant if isinstance(self.lane, Lane) else self.lane


class InferencePool:
    """Runs blocking engine calls in ``threads`` worker threads; see the module docstring.

    ``running`` counts calls executing in a thread, ``queued`` calls waiting for one,
    and ``pending`` both (the ``scaispeak_inference_pending`` gauge). ``clock`` times
    calls for ``Retry-After``.
    """

    def __init__(
        self,
        threads: int,
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        reserved: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threads < 1 or max_queued < 1:
            raise ValueError("an inference pool needs at least one thread and one queue slot")
        if not 0 <= reserved < threads:
            raise ValueError("reserved threads must leave at least one for other work")
        self.threads = threads
        self.max_queued = max_queued
        self.reserved = reserved
        self._clock = clock
        self._cond = threading.Condition()
        # Per priority, tenants (groups) in turn order, each with its lanes in turn
        # order; a served group, and a served lane within it, moves to the back.
        self._lanes: list[OrderedDict[Hashable, OrderedDict[Hashable, deque[_Work]]]] = [
            OrderedDict() for _ in Priority
        ]
        self._queued = 0
        self._running = 0
        self._running_deferrable = 0  # calls running now that may not use a reserved thread
        self._busy_lanes: set[Hashable] = set()  # lanes with a call running (one at most)
        self._holds: set[ThreadHold] = set()
        self._mean_call_s: float | None = None  # of interactive calls; None before the first
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
        hold: ThreadHold | None = None,
        admitted: bool = False,
        **kwargs: object,
    ) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread and return its result.

        ``lane`` groups the calls of one stream for round-robin; calls without a lane
        each get their own. ``hold`` (from :meth:`hold_thread_for_due_soon`) is given
        up as this due-soon call is queued, so the thread it kept goes to this call.
        Raises :class:`ServerBusy` when the queue is full, except for bulk calls and
        ``admitted`` ones: later calls of a request or stream already under way (its
        first call got in), which queue one at a time. Refusing one would cut off an
        answer already begun, or waste the work already done for it.
        """
        work = self._submit(partial(fn, *args, **kwargs), priority, lane, hold, admitted)
        try:
            result: T = await asyncio.wrap_future(work.future)
        except asyncio.CancelledError:
            self._withdraw(work)
            raise
        return result

    def hold_thread_for_due_soon(self) -> ThreadHold | None:
        """Keep a thread for a due-soon call that will be asked for shortly, if one is
        idle now and no other hold has it; None otherwise.

        Until the hold is given to :meth:`run` or to :meth:`release`, normal and bulk
        calls may not start on that thread (first-audio calls still may). The caller
        must release a hold it does not use: one kept forever starves normal work.
        """
        with self._cond:
            if self._closed or self.pending >= self.threads:
                return None
            if self._kept_from_deferrable(Priority.NORMAL) >= self._deferrable_threads:
                return None
            hold = ThreadHold()
            self._holds.add(hold)
            return hold

    def release(self, hold: ThreadHold) -> None:
        """Give a hold's thread back to normal and bulk work (a no-op once given up)."""
        with self._cond:
            self._give_up(hold)

    def shutdown(self) -> None:
        """Drop queued calls, let running ones finish, and stop the threads."""
        with self._cond:
            self._closed = True
            for groups in self._lanes:
                for lanes in groups.values():
                    for queue in lanes.values():
                        for work in queue:
                            work.future.cancel()
                groups.clear()
            self._queued = 0
            self._holds.clear()
            self._cond.notify_all()
        for worker in self._workers:
            worker.join()

    @property
    def _deferrable_threads(self) -> int:
        """Threads that calls other than first audio may use."""
        return self.threads - self.reserved

    def _kept_from_deferrable(self, priority: Priority) -> int:
        """Non-reserved threads a ``priority`` call may not take: those running such
        calls, and, below due-soon, those held for due-soon calls."""
        kept = self._running_deferrable
        if priority > Priority.DUE_SOON:
            kept += len(self._holds)
        return kept

    def _give_up(self, hold: ThreadHold) -> None:
        if hold in self._holds:
            self._holds.discard(hold)
            self._cond.notify_all()  # normal or bulk work may start on that thread now

    def _submit(
        self,
        call: Callable[[], Any],
        priority: Priority,
        lane: Hashable | None,
        hold: ThreadHold | None,
        admitted: bool = False,
    ) -> _Work:
        work = _Work(call, Future(), priority, lane if lane is not None else object())
        with self._cond:
            if self._closed:
                raise InferencePoolClosed("The inference pool is shutting down.")
            # The cap keeps interactive callers from waiting in an unbounded queue: past
            # it they are told to come back instead. Bulk calls (job segments) wait
            # however full it is: each job queues one call at a time and a worker runs
            # a bounded number of jobs, so they stay few; they are served after every
            # interactive call, so they lengthen no caller's wait and take no slot; and
            # refusing one would fail a job that only had to wait.
            waiting = self._waiting_interactive()
            if priority is not Priority.BULK and not admitted and waiting >= self.max_queued:
                raise ServerBusy(
                    f"{waiting} synthesis calls are already waiting; try again shortly.",
                    retry_after=self._retry_after(waiting),
                )
            lanes = self._lanes[priority].setdefault(work.group, OrderedDict())
            lanes.setdefault(work.lane, deque()).append(work)
            self._queued += 1
            # Threads start on first use, so apps that never serve leave none behind.
            if len(self._workers) < self.threads:
                self._start_worker()
            self._cond.notify()
            # In the same locked step as the queueing: no normal or bulk call can take
            # the held thread in between.
            if hold is not None:
                self._give_up(hold)
        return work

    def _waiting_interactive(self) -> int:
        groups = self._lanes[Priority.BULK].values()
        bulk = sum(len(queue) for lanes in groups for queue in lanes.values())
        return self._queued - bulk

    def _retry_after(self, waiting: int) -> int:
        """Whole seconds until the waiting calls are likely done: their number times the
        recent mean call time, over the threads that serve normal work (1 to 30)."""
        mean = self._mean_call_s or 0.0
        estimate = math.ceil(waiting * mean / self._deferrable_threads)
        return min(MAX_RETRY_AFTER_S, max(1, estimate))

    def _start_worker(self) -> None:
        name = f"inference-{len(self._workers)}"
        worker = threading.Thread(target=self._work_loop, name=name, daemon=True)
        self._workers.append(worker)
        worker.start()

    def _withdraw(self, work: _Work) -> None:
        """Take a cancelled call out of the queue (a no-op once a thread has it)."""
        with self._cond:
            groups = self._lanes[work.priority]
            lanes = groups.get(work.group)
            queue = lanes.get(work.lane) if lanes is not None else None
            if lanes is None or queue is None or work not in queue:
                return
            queue.remove(work)
            self._queued -= 1
            if not queue:
                del lanes[work.lane]
            if not lanes:
                del groups[work.group]

    def _take(self) -> _Work | None:
        """The next call to run, with the lock held; None when nothing may start now."""
        for priority, groups in zip(Priority, self._lanes, strict=True):
            if not groups:
                continue
            if priority is not Priority.FIRST_AUDIO and (
                self._kept_from_deferrable(priority) >= self._deferrable_threads
            ):
                # The remaining threads are reserved for first audio or held for due-soon
                # work; lower priorities are kept from them just the same.
                return None
            work = self._next_in_turn(groups)
            if work is not None:
                return work
            # Every lane queued here waits for its own running call: a lower priority's turn.
        return None

    def _next_in_turn(
        self, groups: OrderedDict[Hashable, OrderedDict[Hashable, deque[_Work]]]
    ) -> _Work | None:
        """The first ready lane's next call, of the first group with one; moves both to
        the back of their turn orders."""
        for group, lanes in groups.items():
            lane = next((key for key in lanes if key not in self._busy_lanes), None)
            if lane is None:
                continue
            queue = lanes[lane]
            work = queue.popleft()
            self._queued -= 1
            if queue:
                lanes.move_to_end(lane)
            else:
                del lanes[lane]
            if lanes:
                groups.move_to_end(group)
            else:
                del groups[group]
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
                self._busy_lanes.add(work.lane)
                deferrable = work.priority is not Priority.FIRST_AUDIO
                self._running_deferrable += deferrable
            started = self._clock()
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
                self._busy_lanes.discard(work.lane)
                if work.priority is not Priority.BULK:
                    self._note_call_time(self._clock() - started)
                if self._queued:
                    # A thread held back from deferrable work, or idle while this lane's
                    # next call waited for this one, may take work now.
                    self._cond.notify_all()
            if error is not None:
                work.future.set_exception(error)
            else:
                work.future.set_result(result)

    def _note_call_time(self, seconds: float) -> None:
        # Interactive calls only: they are what a refused caller would wait behind.
        mean = self._mean_call_s
        self._mean_call_s = seconds if mean is None else mean + _MEAN_WEIGHT * (seconds - mean)


def inference_pool(settings: EngineSettings) -> InferencePool:
    """The process's pool as configured (first-audio reservation capped to leave a thread)."""
    threads = settings.inference_threads
    reserved = min(settings.first_audio_reserved_threads, threads - 1)
    return InferencePool(threads, reserved=reserved)
