"""The dynamic-batching scheduler, with a recording stand-in for the model (no torch).

Each test items are ``(name, length)`` pairs; the fake batch function records which
names ran together and can be held on a gate, so a test can queue work behind a
running batch and watch how the scheduler orders it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Sequence

import pytest

from scaispeak.speak.engines.vits_torch.batching import (
    BatchPolicy,
    BatchScheduler,
    SchedulerClosed,
    SchedulerFull,
)
from scaispeak.speak.synthesis.inference import Priority

Item = tuple[str, int]
WAIT_S = 10.0
"""Generous: a loaded CI machine may be slow, but a result never takes this long."""


class RecordingModel:
    """Stands in for the model: returns ``name.upper()`` per item, records batches."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.fail_when: str | None = None

    def __call__(self, items: Sequence[Item]) -> list[str]:
        self.started.set()
        assert self.gate.wait(WAIT_S)
        names = [name for name, _ in items]
        self.batches.append(names)
        if self.fail_when in names:
            raise RuntimeError(f"batch with {self.fail_when} failed")
        return [name.upper() for name in names]


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


def _scheduler(
    model: RecordingModel, *, max_batch: int, window_s: float, bucket_width: int
) -> BatchScheduler[Item, str]:
    policy = BatchPolicy(max_batch=max_batch, window_s=window_s, bucket_width=bucket_width)
    return BatchScheduler(model, lambda item: item[1], policy)


@pytest.fixture
def scheduler_factory(model: RecordingModel) -> Iterator[list[BatchScheduler[Item, str]]]:
    made: list[BatchScheduler[Item, str]] = []
    yield made
    model.gate.set()
    for scheduler in made:
        scheduler.close()


def _hold_behind_a_running_batch(
    model: RecordingModel, scheduler: BatchScheduler[Item, str]
) -> None:
    """Start a batch that blocks on the gate, so later submissions queue up."""
    model.gate.clear()
    scheduler.submit(("blocker", 1))
    assert model.started.wait(WAIT_S)


def test_every_caller_gets_its_own_result(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=4, window_s=0.05, bucket_width=100)
    scheduler_factory.append(scheduler)
    futures = {name: scheduler.submit((name, 5)) for name in ("a", "b", "c")}
    assert {name: f.result(WAIT_S) for name, f in futures.items()} == {
        "a": "A",
        "b": "B",
        "c": "C",
    }


def test_most_urgent_batch_runs_first(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    # Width 10: each item below sits in a bucket of its own, so each is a batch.
    scheduler = _scheduler(model, max_batch=8, window_s=0.0, bucket_width=10)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    bulk = scheduler.submit(("bulk", 5), Priority.BULK)
    normal = scheduler.submit(("normal", 15), Priority.NORMAL)
    first = scheduler.submit(("first", 25), Priority.FIRST_AUDIO)
    model.gate.set()
    for future in (bulk, normal, first):
        future.result(WAIT_S)
    assert model.batches == [["blocker"], ["first"], ["normal"], ["bulk"]]


def test_within_a_batch_urgent_items_fill_it_first(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=2, window_s=0.0, bucket_width=100)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    futures = [
        scheduler.submit(("bulk-1", 5), Priority.BULK),
        scheduler.submit(("bulk-2", 5), Priority.BULK),
        scheduler.submit(("normal", 5), Priority.NORMAL),
        scheduler.submit(("first", 5), Priority.FIRST_AUDIO),
    ]
    model.gate.set()
    for future in futures:
        future.result(WAIT_S)
    assert model.batches[1:] == [["first", "normal"], ["bulk-1", "bulk-2"]]


def test_window_gathers_callers_that_arrive_close_together(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=8, window_s=0.5, bucket_width=100)
    scheduler_factory.append(scheduler)
    started = time.monotonic()
    early = scheduler.submit(("early", 5))
    time.sleep(0.05)
    late = scheduler.submit(("late", 6))
    assert (early.result(WAIT_S), late.result(WAIT_S)) == ("EARLY", "LATE")
    assert model.batches == [["early", "late"]]
    assert time.monotonic() - started >= 0.5, "the idle device should wait out the window"


def test_a_full_bucket_does_not_wait_for_the_window(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=2, window_s=60.0, bucket_width=100)
    scheduler_factory.append(scheduler)
    futures = [scheduler.submit((name, 5)) for name in ("a", "b")]
    assert [f.result(WAIT_S) for f in futures] == ["A", "B"]


def test_lengths_are_bucketed(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=8, window_s=0.0, bucket_width=10)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    lengths = {"short-a": 3, "long-a": 25, "short-b": 10, "long-b": 30}
    futures = [scheduler.submit((name, length)) for name, length in lengths.items()]
    model.gate.set()
    for future in futures:
        future.result(WAIT_S)
    assert model.batches[1:] == [["short-a", "short-b"], ["long-a", "long-b"]]


def test_a_cancelled_caller_is_left_out(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=8, window_s=0.0, bucket_width=100)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    gone = scheduler.submit(("gone", 5))
    stays = scheduler.submit(("stays", 5))
    assert gone.cancel()
    model.gate.set()
    assert stays.result(WAIT_S) == "STAYS"
    assert model.batches[1:] == [["stays"]]
    assert scheduler.waiting == 0


def test_a_failing_batch_fails_only_the_item_that_fails_alone(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=8, window_s=0.0, bucket_width=10)
    scheduler_factory.append(scheduler)
    model.fail_when = "poison"
    _hold_behind_a_running_batch(model, scheduler)
    poison = scheduler.submit(("poison", 5))
    neighbours = [scheduler.submit((f"n{i}", 5)) for i in range(3)]
    elsewhere = scheduler.submit(("elsewhere", 25))
    model.gate.set()
    with pytest.raises(RuntimeError, match="batch with poison failed"):
        poison.result(WAIT_S)
    assert [n.result(WAIT_S) for n in neighbours] == ["N0", "N1", "N2"]
    assert elsewhere.result(WAIT_S) == "ELSEWHERE"
    # The batch, then its half holding the poison, then the poison alone.
    assert [b for b in model.batches if "poison" in b] == [
        ["poison", "n0", "n1", "n2"],
        ["poison", "n0"],
        ["poison"],
    ]
    assert scheduler.stats.failed_batches == 3
    later = scheduler.submit(("later", 5))
    assert later.result(WAIT_S) == "LATER", "the scheduler must survive a failed batch"


class Activations:
    """Stands in for the tensors a model run allocates."""


class OutOfMemory(RuntimeError):
    """Stands in for ``torch.cuda.OutOfMemoryError`` (a RuntimeError), without torch."""


def test_a_batch_too_big_for_the_device_succeeds_in_smaller_parts(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    """As CUDA runs out of memory on a batch of long sentences: every caller still
    gets its audio, from batches small enough to fit, and what a failed run had
    allocated is freed before the smaller ones run (a traceback kept alive holds
    its frames, and a frame its tensors)."""
    allocations: list[weakref.ref[Activations]] = []

    def out_of_memory_past_two(items: Sequence[Item]) -> list[str]:
        assert all(a() is None for a in allocations), "a failed run's memory is still held"
        activations = Activations()
        allocations.append(weakref.ref(activations))
        if len(items) > 2:
            raise OutOfMemory("CUDA out of memory")
        return model(items)

    policy = BatchPolicy(max_batch=8, window_s=0.0, bucket_width=10)
    scheduler = BatchScheduler(out_of_memory_past_two, lambda item: item[1], policy)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    futures = [scheduler.submit((f"s{i}", 5)) for i in range(8)]
    model.gate.set()
    assert [f.result(WAIT_S) for f in futures] == [f"S{i}" for i in range(8)]
    assert sorted(map(len, model.batches[1:])) == [2, 2, 2, 2]
    assert scheduler.stats.split_batches == 3  # 8 into 4 + 4, each 4 into 2 + 2


def test_close_fails_waiting_callers(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    scheduler = _scheduler(model, max_batch=8, window_s=0.0, bucket_width=100)
    _hold_behind_a_running_batch(model, scheduler)
    waiting = scheduler.submit(("waiting", 5))
    closer = threading.Thread(target=scheduler.close)
    closer.start()
    deadline = time.monotonic() + WAIT_S
    while not waiting.done() and time.monotonic() < deadline:
        time.sleep(0.01)  # let close() fail it before the running batch lets go
    model.gate.set()
    closer.join(WAIT_S)
    # Failed, not cancelled: an awaiting caller took the cancel for its own.
    assert not waiting.cancelled()
    assert isinstance(waiting.exception(0), SchedulerClosed)
    with pytest.raises(RuntimeError, match="closed"):
        scheduler.submit(("after", 5))


def test_a_steady_trickle_of_urgent_work_does_not_starve_the_rest(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    """Each batch found a new first clause waiting, so the head was always urgent and
    a job's segment in another length bucket never ran, the device mostly idle."""
    policy = BatchPolicy(max_batch=8, window_s=0.0, bucket_width=10, starve_s=0.3)

    def slow_model(items: Sequence[Item]) -> list[str]:  # slower than the trickle
        time.sleep(0.01)
        return model(items)

    scheduler: BatchScheduler[Item, str] = BatchScheduler(slow_model, lambda item: item[1], policy)
    scheduler_factory.append(scheduler)
    stop = threading.Event()

    def trickle() -> None:  # one urgent short clause every few milliseconds
        n = 0
        while not stop.is_set():
            scheduler.submit((f"first-{n}", 5), Priority.FIRST_AUDIO)
            n += 1
            time.sleep(0.003)

    feeder = threading.Thread(target=trickle)
    _hold_behind_a_running_batch(model, scheduler)
    feeder.start()
    try:
        time.sleep(0.05)
        bulk = scheduler.submit(("bulk", 35), Priority.BULK)
        model.gate.set()
        assert bulk.result(WAIT_S) == "BULK"
    finally:
        stop.set()
        feeder.join()


def test_a_new_caller_past_the_cap_is_refused_but_work_under_way_still_queues(
    model: RecordingModel, scheduler_factory: list[BatchScheduler[Item, str]]
) -> None:
    """Unbounded, a saturated GPU let latency grow without limit (the CPU engines'
    queue answers 503 instead): new callers are refused; a call already under way
    (admitted) and bulk work still queue, as with the inference pool."""
    policy = BatchPolicy(max_batch=8, window_s=0.0, bucket_width=100, max_waiting=2)
    scheduler: BatchScheduler[Item, str] = BatchScheduler(model, lambda item: item[1], policy)
    scheduler_factory.append(scheduler)
    _hold_behind_a_running_batch(model, scheduler)
    queued = [scheduler.submit(("a", 5)), scheduler.submit(("b", 5))]
    with pytest.raises(SchedulerFull):
        scheduler.submit(("new caller", 5), Priority.FIRST_AUDIO)
    queued.append(scheduler.submit(("next sentence", 5), admitted=True))
    queued.append(scheduler.submit(("job", 5), Priority.BULK))
    model.gate.set()
    assert [f.result(WAIT_S) for f in queued] == ["A", "B", "NEXT SENTENCE", "JOB"]


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(max_batch=0)
    with pytest.raises(ValueError):
        BatchPolicy(window_s=-1)
    with pytest.raises(ValueError):
        BatchPolicy(starve_s=0)
    with pytest.raises(ValueError):
        BatchPolicy(max_waiting=0)
