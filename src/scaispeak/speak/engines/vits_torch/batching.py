"""Dynamic batching: segments from concurrent callers, gathered into padded batches.

One scheduler thread owns the model (one device, one batch at a time). Callers submit
items from any thread and get a ``concurrent.futures.Future`` each. The scheduler:

1. picks the *head*: the waiting item with the most urgent :class:`Priority`, oldest
   first, so a stream's first clause (``FIRST_AUDIO``) goes before a job's (``BULK``);
   but an item that has waited ``starve_s`` goes first whatever its priority, or a
   steady trickle of urgent work (each batch finds one new first clause) would keep
   less urgent buckets from ever running while the device is mostly idle;
2. waits until ``window_s`` after the head *arrived* for company, or until the head's
   length bucket holds ``max_batch`` items. An item that already waited while the
   previous batch ran goes at once: the window only costs anything when the device is
   idle, which is when it can afford it;
3. takes up to ``max_batch`` items from the head's bucket (items whose lengths fall in
   the same ``bucket_width`` band, so little of the batch is padding), most urgent
   first, and runs them;
4. resolves each item's future as soon as its batch returns.

A caller that cancels its future before its batch starts is left out of it; once the
batch runs, its result is dropped. Closing fails what still waits (``SchedulerClosed``).
A batch that raises is run again in halves, down to single items, so an exception
reaches only the callers whose own item raises it alone: a sentence the model cannot
take fails by itself, and a batch too big for the device's memory (CUDA out of
memory on long sentences) succeeds in smaller parts. The scheduler carries on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from scaispeak.speak.engines.base import Priority

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class SchedulerClosed(RuntimeError):
    """The scheduler was closed with the item still waiting."""


class SchedulerFull(RuntimeError):
    """``max_waiting`` items of new callers already wait: come back later."""


@dataclass(frozen=True)
class BatchPolicy:
    """How batches are formed; see the module docstring."""

    max_batch: int = 32
    window_s: float = 0.005
    bucket_width: int = 32
    """Items whose lengths differ by bucket band are never padded to each other."""
    starve_s: float = 0.5
    """The longest an item waits behind more urgent ones before it goes first."""
    max_waiting: int = 4096
    """Waiting items (not bulk) past which a new caller is refused (``SchedulerFull``);
    the later items of a caller already under way (``admitted``) and bulk work wait
    however many there are, as with the inference pool's queue."""

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.bucket_width < 1 or self.window_s < 0:
            raise ValueError("max_batch and bucket_width must be >= 1, window_s >= 0")
        if self.starve_s <= 0 or self.max_waiting < 1:
            raise ValueError("starve_s must be > 0, max_waiting >= 1")

    def bucket(self, length: int) -> int:
        return max(length - 1, 0) // self.bucket_width


@dataclass(eq=False)
class _Waiting(Generic[ItemT, ResultT]):
    item: ItemT
    bucket: int
    priority: Priority
    order: int
    arrived: float
    future: Future[ResultT] = field(default_factory=Future)

    @property
    def rank(self) -> tuple[int, int]:
        return (int(self.priority), self.order)


@dataclass
class BatchStats:
    """What the scheduler has done, for benchmarks and metrics."""

    batches: int = 0
    items: int = 0
    failed_batches: int = 0
    split_batches: int = 0
    """Failed batches run again in halves (``_run_in_halves``)."""


class BatchScheduler(Generic[ItemT, ResultT]):
    """Runs ``run_batch`` on gathered items in one background thread.

    ``run_batch`` takes a list of items and returns one result per item, in order.
    ``length_of`` gives an item's length for bucketing (phonemes, for the VITS model).
    """

    def __init__(
        self,
        run_batch: Callable[[list[ItemT]], Sequence[ResultT]],
        length_of: Callable[[ItemT], int],
        policy: BatchPolicy | None = None,
        *,
        name: str = "batch-scheduler",
    ) -> None:
        self.policy = policy or BatchPolicy()
        self.stats = BatchStats()
        self._run_batch = run_batch
        self._length_of = length_of
        self._cond = threading.Condition()
        self._waiting: list[_Waiting[ItemT, ResultT]] = []
        self._order = 0
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        with self._cond:
            return sum(1 for w in self._waiting if not w.future.cancelled())

    def submit(
        self, item: ItemT, priority: Priority = Priority.NORMAL, *, admitted: bool = False
    ) -> Future[ResultT]:
        """Queue ``item``; its future resolves when its batch has run. Raises
        ``SchedulerFull`` for a new caller's urgent item past ``max_waiting``."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the batch scheduler is closed")
            if not admitted and priority is not Priority.BULK:
                urgent = sum(1 for w in self._waiting if w.priority is not Priority.BULK)
                if urgent >= self.policy.max_waiting:
                    raise SchedulerFull(f"{urgent} sentences are already waiting")
            bucket = self.policy.bucket(self._length_of(item))
            waiting: _Waiting[ItemT, ResultT] = _Waiting(
                item, bucket, priority, self._order, time.monotonic()
            )
            self._order += 1
            self._waiting.append(waiting)
            self._cond.notify_all()
        return waiting.future

    def close(self) -> None:
        """Fail what is waiting (``SchedulerClosed``), let a running batch finish, stop
        the thread. Failed, not cancelled: an awaiting caller would take a cancelled
        future for its own cancellation, not for an engine that stopped under it."""
        with self._cond:
            self._closed = True
            for waiting in self._waiting:
                if waiting.future.set_running_or_notify_cancel():
                    waiting.future.set_exception(
                        SchedulerClosed("the engine stopped before this item ran")
                    )
            self._waiting.clear()
            self._cond.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self._run(batch)

    def _next_batch(self) -> list[_Waiting[ItemT, ResultT]] | None:
        """Block until a batch is due; None once closed. May return [] (all cancelled)."""
        with self._cond:
            while True:
                self._drop_cancelled()
                if self._closed:
                    return None
                if not self._waiting:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                head = min(self._waiting, key=lambda w: self._urgency(w, now))
                remaining = head.arrived + self.policy.window_s - now
                if remaining > 0 and self._bucket_size(head.bucket) < self.policy.max_batch:
                    # Something may arrive (a fuller bucket, a more urgent head): re-decide.
                    self._cond.wait(remaining)
                    continue
                return self._take(head.bucket, now)

    def _urgency(self, waiting: _Waiting[ItemT, ResultT], now: float) -> tuple[int, int, int]:
        """Sort key, most urgent first: starved items (oldest first), then by rank."""
        starved = now - waiting.arrived >= self.policy.starve_s
        return (0, 0, waiting.order) if starved else (1, *waiting.rank)

    def _drop_cancelled(self) -> None:
        self._waiting = [w for w in self._waiting if not w.future.cancelled()]

    def _bucket_size(self, bucket: int) -> int:
        return sum(1 for w in self._waiting if w.bucket == bucket)

    def _take(self, bucket: int, now: float) -> list[_Waiting[ItemT, ResultT]]:
        candidates = sorted(
            (w for w in self._waiting if w.bucket == bucket), key=lambda w: self._urgency(w, now)
        )
        chosen = candidates[: self.policy.max_batch]
        taken = set(map(id, chosen))
        self._waiting = [w for w in self._waiting if id(w) not in taken]
        # A caller may cancel up to this instant; after it, the batch owns the item.
        return [w for w in chosen if w.future.set_running_or_notify_cancel()]

    def _run(self, batch: list[_Waiting[ItemT, ResultT]]) -> None:
        try:
            results = self._run_batch([w.item for w in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} returned {len(results)} results")
        except Exception as exc:
            self.stats.failed_batches += 1
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # Split outside this block: the exception's traceback holds the failed
            # run's frames, and with them its tensors (the memory the halves need).
        except BaseException as exc:  # delivered to this batch's callers, not lost
            self.stats.failed_batches += 1
            _fail(batch, exc)
            return
        else:
            self.stats.batches += 1
            self.stats.items += len(batch)
            for waiting, result in zip(batch, results, strict=True):
                waiting.future.set_result(result)
            return
        self._run_in_halves(batch)

    def _run_in_halves(self, batch: list[_Waiting[ItemT, ResultT]]) -> None:
        """A failed batch's items again, half at a time (the most urgent half first,
        as ``_take`` ordered them). A failure every item shares (a lost device) costs
        about twice the batch's item count in quick failed runs, once."""
        self.stats.split_batches += 1
        middle = len(batch) // 2
        self._run(batch[:middle])
        self._run(batch[middle:])


def _fail(batch: list[_Waiting[ItemT, ResultT]], exc: BaseException) -> None:
    """Give ``exc`` to the batch's callers without its traceback: its frames hold the
    failed run's tensors, which would stay on the device for as long as a caller keeps
    the error (an ``EngineError`` chains it)."""
    exc = exc.with_traceback(None)
    for waiting in batch:
        waiting.future.set_exception(exc)
