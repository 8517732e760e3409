"""The inference pool: priorities, turns across lanes, cancellation, bounds and counters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Hashable

import pytest

from scaispeak.settings import EngineSettings
from scaispeak.speak.errors import ServerBusy
from scaispeak.speak.synthesis.inference import InferencePool, Lane, Priority, inference_pool


class Blocked:
    """A pool with one thread, held busy until ``release``; records the order calls ran."""

    def __init__(self, max_queued: int = 16) -> None:
        self.pool = InferencePool(1, max_queued=max_queued)
        self.ran: list[str] = []
        self._gate = threading.Event()
        self._holder = asyncio.create_task(self.pool.run(self._gate.wait, 10))

    async def submit(
        self, name: str, priority: Priority = Priority.NORMAL, lane: Hashable | None = None
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(
            self.pool.run(self.ran.append, name, priority=priority, lane=lane)
        )
        await asyncio.sleep(0)  # let it reach the queue, so submission order is fixed
        return task

    async def release(self) -> None:
        self._gate.set()
        await self._holder

    @classmethod
    async def started(cls, max_queued: int = 16) -> Blocked:
        held = cls(max_queued)
        await until(lambda: held.pool.running == 1)  # holding the thread before others queue
        return held


async def until(check: Callable[[], bool]) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


@pytest.fixture
async def blocked() -> AsyncIterator[Blocked]:
    held = await Blocked.started()
    yield held
    await held.release()
    held.pool.shutdown()


async def test_first_audio_runs_before_work_queued_earlier(blocked: Blocked) -> None:
    tasks = [await blocked.submit(f"paragraph-{n}", lane="a") for n in range(3)]
    tasks.append(await blocked.submit("bulk", Priority.BULK))
    tasks.append(await blocked.submit("first-clause", Priority.FIRST_AUDIO, lane="b"))
    await blocked.release()
    await asyncio.gather(*tasks)
    assert blocked.ran == ["first-clause", "paragraph-0", "paragraph-1", "paragraph-2", "bulk"]


async def test_equal_priority_lanes_take_turns(blocked: Blocked) -> None:
    tasks = [await blocked.submit(f"a{n}", lane="a") for n in range(3)]
    tasks += [await blocked.submit(f"b{n}", lane="b") for n in range(2)]
    tasks.append(await blocked.submit("speak"))  # no lane: a lane of its own
    await blocked.release()
    await asyncio.gather(*tasks)
    assert blocked.ran == ["a0", "b0", "speak", "a1", "b1", "a2"]


async def test_tenants_take_turns_whatever_their_number_of_lanes(blocked: Blocked) -> None:
    """A tenant with three requests running took three turns to another's one: a
    tenant's requests abandoned by their caller delayed another's by 21 s."""
    tasks = [await blocked.submit(f"a{n}", lane=Lane("A", f"req{n}")) for n in range(3)]
    tasks += [await blocked.submit(f"a{n}-more", lane=Lane("A", f"req{n}")) for n in range(3)]
    tasks += [await blocked.submit(f"b{n}", lane=Lane("B", "req")) for n in range(2)]
    await blocked.release()
    await asyncio.gather(*tasks)
    # Tenants alternate; within A its requests take turns.
    assert blocked.ran == ["a0", "b0", "a1", "b1", "a2", "a0-more", "a1-more", "a2-more"]


async def test_cancelled_queued_call_leaves_the_queue_and_never_runs(blocked: Blocked) -> None:
    task = await blocked.submit("abandoned", lane="gone")
    assert (blocked.pool.running, blocked.pool.queued) == (1, 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert blocked.pool.queued == 0
    await blocked.release()
    assert blocked.ran == []
    assert blocked.pool.pending == 0


async def test_cancelled_running_call_counts_as_running_until_it_returns() -> None:
    pool = InferencePool(1)
    gate = threading.Event()
    task = asyncio.create_task(pool.run(gate.wait, 10))
    await until(lambda: pool.running == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert pool.running == 1  # still inside the engine: it cannot be interrupted
    gate.set()
    await until(lambda: pool.running == 0)
    assert pool.pending == 0
    pool.shutdown()


async def test_a_full_queue_refuses_with_server_busy() -> None:
    held = await Blocked.started(max_queued=2)
    tasks = [await held.submit("one"), await held.submit("two")]
    with pytest.raises(ServerBusy) as refused:
        await held.pool.run(held.ran.append, "three")
    assert refused.value.code == "server_busy"
    await held.release()
    await asyncio.gather(*tasks)
    assert held.ran == ["one", "two"]
    held.pool.shutdown()


async def test_a_full_queue_still_takes_the_next_call_of_an_answer_under_way() -> None:
    """A streamed answer already sent as 200 was cut off when its next segment met a
    full queue; an inline request lost the segments it had made."""
    held = await Blocked.started(max_queued=1)
    waiting = await held.submit("new caller")
    with pytest.raises(ServerBusy):
        await held.pool.run(held.ran.append, "another new caller")
    under_way = asyncio.create_task(held.pool.run(held.ran.append, "next segment", admitted=True))
    await until(lambda: held.pool.queued == 2)
    await held.release()
    await asyncio.gather(waiting, under_way)
    assert held.ran == ["new caller", "next segment"]
    held.pool.shutdown()


async def test_a_full_queue_still_takes_bulk_calls_and_serves_them_last() -> None:
    held = await Blocked.started(max_queued=1)
    waiting = await held.submit("interactive", lane="stream")
    job_segment = await held.submit("job-segment", Priority.BULK, lane="job")
    assert held.pool.queued == 2  # past the cap: a job segment waits, it is not refused
    await held.release()
    await asyncio.gather(waiting, job_segment)
    assert held.ran == ["interactive", "job-segment"]
    held.pool.shutdown()


async def test_queued_bulk_calls_take_no_slot_from_interactive_callers() -> None:
    held = await Blocked.started(max_queued=1)
    job_segment = await held.submit("job-segment", Priority.BULK, lane="job")
    interactive = await held.submit("interactive", lane="stream")  # the one slot is free
    assert held.pool.queued == 2
    with pytest.raises(ServerBusy):
        await held.pool.run(held.ran.append, "one too many")
    await held.release()
    await asyncio.gather(job_segment, interactive)
    assert held.ran == ["interactive", "job-segment"]
    held.pool.shutdown()


class SteppedClock:
    """A clock that moves only when a call says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def take(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    ("past_call_s", "waiting", "retry_after"),
    [
        (None, 2, "1"),  # nothing measured yet: the shortest wait
        (2.0, 3, "6"),  # three calls of 2 s on one thread
        (0.1, 3, "1"),  # rounded up to whole seconds, at least one
        (40.0, 1, "30"),  # never longer than 30 s
    ],
)
async def test_retry_after_is_how_long_the_waiting_calls_take(
    past_call_s: float | None, waiting: int, retry_after: str
) -> None:
    clock = SteppedClock()
    pool = InferencePool(1, max_queued=waiting, clock=clock)
    if past_call_s is not None:
        await pool.run(clock.take, past_call_s)
    gate = threading.Event()
    holder = asyncio.create_task(pool.run(gate.wait, 10))
    await until(lambda: pool.running == 1)
    queued = [asyncio.create_task(pool.run(clock.take, 0.0)) for _ in range(waiting)]
    await until(lambda: pool.queued == waiting)
    with pytest.raises(ServerBusy) as refused:
        await pool.run(clock.take, 0.0)
    assert refused.value.headers["Retry-After"] == retry_after
    gate.set()
    await asyncio.gather(holder, *queued)
    pool.shutdown()


async def test_errors_reach_the_caller() -> None:
    pool = InferencePool(1)

    def fail() -> None:
        raise ValueError("engine exploded")

    with pytest.raises(ValueError, match="exploded"):
        await pool.run(fail)
    assert pool.pending == 0
    pool.shutdown()


async def test_shutdown_drops_queued_calls(blocked: Blocked) -> None:
    task = await blocked.submit("late")
    threading.Timer(0.05, blocked._gate.set).start()
    await asyncio.to_thread(blocked.pool.shutdown)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert blocked.ran == []


async def test_a_reserved_thread_serves_first_audio_while_long_work_runs() -> None:
    pool = InferencePool(2, reserved=1)
    gate = threading.Event()
    ran: list[str] = []
    long_segment = asyncio.create_task(pool.run(gate.wait, 10, lane="a"))
    await until(lambda: pool.running == 1)
    # A second normal call may not take the reserved thread: it waits...
    later = asyncio.create_task(pool.run(ran.append, "later", lane="b"))
    await asyncio.sleep(0.05)
    assert (pool.running, pool.queued, ran) == (1, 1, [])
    # ...while a first clause starts at once beside the running segment.
    await pool.run(ran.append, "first-clause", priority=Priority.FIRST_AUDIO, lane="c")
    assert ran == ["first-clause"]
    gate.set()
    await asyncio.gather(long_segment, later)
    assert ran == ["first-clause", "later"]
    pool.shutdown()


async def test_a_lane_runs_one_call_at_a_time_even_after_abandoning_one() -> None:
    """A stream that barged in twice had both abandoned calls running and a third
    starting, every thread taken: another stream's first clause waited 25 s."""
    pool = InferencePool(2, reserved=1)
    gate = threading.Event()
    ran: list[str] = []
    abandoned = asyncio.create_task(
        pool.run(gate.wait, 10, priority=Priority.FIRST_AUDIO, lane="barging")
    )
    await until(lambda: pool.running == 1)
    abandoned.cancel()  # the barge-in: the call runs on in its thread
    again = asyncio.create_task(
        pool.run(ran.append, "barging-again", priority=Priority.FIRST_AUDIO, lane="barging")
    )
    await asyncio.sleep(0.05)
    assert (pool.running, pool.queued, ran) == (1, 1, [])  # it waits for its own call
    # Another stream's first clause starts at once on the thread that is left.
    await pool.run(ran.append, "other-first-clause", priority=Priority.FIRST_AUDIO, lane="o")
    assert ran == ["other-first-clause"]
    gate.set()
    await again
    assert ran == ["other-first-clause", "barging-again"]
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    pool.shutdown()


async def test_no_thread_is_held_while_normal_work_has_the_only_unreserved_one() -> None:
    pool = InferencePool(2, reserved=1)
    gate = threading.Event()
    long_segment = asyncio.create_task(pool.run(gate.wait, 10, lane="a"))
    await until(lambda: pool.running == 1)
    # Due-soon work may not use the reserved thread: it would wait out the long segment.
    assert pool.hold_thread_for_due_soon() is None
    gate.set()
    await long_segment
    hold = pool.hold_thread_for_due_soon()
    assert hold is not None
    assert pool.hold_thread_for_due_soon() is None  # one unreserved thread, already held
    pool.shutdown()


async def test_a_held_thread_goes_to_the_due_soon_call_before_bulk_work_queued_earlier() -> None:
    pool = InferencePool(2, reserved=1)
    ran: list[str] = []
    hold = pool.hold_thread_for_due_soon()
    assert hold is not None
    job_segment = asyncio.create_task(pool.run(ran.append, "bulk", priority=Priority.BULK))
    await until(lambda: pool.queued == 1)
    await pool.run(ran.append, "rest", priority=Priority.DUE_SOON, lane="s", hold=hold)
    await job_segment
    assert ran == ["rest", "bulk"]
    pool.shutdown()


async def test_a_released_hold_lets_normal_work_start() -> None:
    pool = InferencePool(2, reserved=1)
    hold = pool.hold_thread_for_due_soon()
    assert hold is not None
    ran: list[str] = []
    waiting = asyncio.create_task(pool.run(ran.append, "normal"))
    await until(lambda: pool.queued == 1)
    pool.release(hold)
    await waiting
    assert ran == ["normal"]
    pool.release(hold)  # twice is harmless (the pipeline's timer may come after the rest)
    assert pool.hold_thread_for_due_soon() is not None
    pool.shutdown()


def test_reserving_every_thread_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        InferencePool(2, reserved=2)


def test_inference_pool_caps_the_reservation() -> None:
    single = inference_pool(EngineSettings(inference_threads=1, first_audio_reserved_threads=1))
    assert single.reserved == 0
    pair = inference_pool(EngineSettings(inference_threads=2))
    assert pair.reserved == 1
