"""The job queue: taskiq carries job ids; the database row stays the source of truth.

Embedded mode uses taskiq's in-memory broker, so jobs run in the API process. With
``SCAISPEAK_REDIS_URL`` jobs travel on a Redis stream (taskiq-redis
``RedisStreamBroker``) to ``scaispeak worker`` processes, which acknowledge a message
only after the job ran; why taskiq: docs/jobs.md. The sweeper hands the queue again
any job whose worker died (lease expired) or whose message was lost, so recovery does
not depend on the broker's redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task
from taskiq.receiver import Receiver

from scaispeak.platform.db import Database, utcnow
from scaispeak.settings import Settings
from scaispeak.speak.jobs import leftovers, outbox, retention
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.outbox import deliver_in_background
from scaispeak.speak.jobs.runner import run_job
from scaispeak.speak.jobs.runtime import JobRuntime

_log = logging.getLogger(__name__)
TASK_NAME = "scaispeak.run_job"
_RECEIVER_STOP_S = 2.0
SWEEP_BATCH = 1_000
"""Stuck jobs re-queued per sweep pass: one statement names each, and drivers bound the
parameters of one statement (asyncpg: 32,767)."""
IDLE_CONSUMER_MS = 3_600_000
"""A consumer holding no message and silent this long is a worker that is gone: a live
one asks for messages every ``xread_block`` (2 s) while it has a free slot, and one
with no free slot holds the messages of the jobs it runs."""


RECEIVER_BACKOFF_MAX_S = 30.0


def _receiver_backing_off(concurrency: int) -> type[Receiver]:
    """A receiver that waits before taskiq starts it again after a failure, and whose
    every restart shares the worker's ``concurrency`` slots.

    taskiq's receiver loop restarts a failed ``listen`` at once: while Redis is away a
    worker spun a core and logged thousands of tracebacks a second. The wait doubles
    from half a second to ``RECEIVER_BACKOFF_MAX_S`` and starts over once a minute has
    passed without a failure.

    Each restart is a new receiver with a semaphore of its own, while the jobs the last
    one started run on: after one Redis blip a worker of concurrency 2 ran 3 jobs
    (helper-63), and every blip could add more. The slots are the worker's, not the
    receiver's."""
    failures, last_failure = 0, 0.0
    slots = asyncio.Semaphore(concurrency)
    # taskiq's own count of messages read and not yet finished, shared for the same
    # reason: a fresh one let a restarted receiver read ``concurrency`` messages while
    # the old jobs held every slot, hoarding them from idle workers (helper-65).
    deliveries = asyncio.Semaphore(concurrency)

    class BackingOff(Receiver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.sem = slots  # released by the jobs of earlier receivers as they end
            self.sem_prefetch = deliveries

        async def listen(self, finish_event: asyncio.Event) -> None:
            nonlocal failures, last_failure
            try:
                await super().listen(finish_event)
            except Exception as exc:
                if _lost_its_group(exc):
                    await _recreate_group(self.broker)
                now = time.monotonic()
                failures = 0 if now - last_failure > 60 else failures
                last_failure = now
                await asyncio.sleep(min(RECEIVER_BACKOFF_MAX_S, 0.5 * 2**failures))
                failures += 1
                raise

    return BackingOff


def _lost_its_group(exc: BaseException) -> bool:
    """Redis answered that the stream or its consumer group is gone: it restarted
    without persistence, failed over to an empty replica, or evicted the key. taskiq's
    receiver raises it inside a task group's exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_lost_its_group(inner) for inner in exc.exceptions)
    return "NOGROUP" in str(exc)


async def _recreate_group(broker: AsyncBroker) -> None:
    """Make the group again, from the stream's start: only taskiq's start-up made it, so
    workers read nothing again until restarted, while /readyz said all was well. A job
    whose message was lost with the data is the sweeper's to queue again."""
    from redis.asyncio import Redis
    from redis.exceptions import RedisError
    from taskiq_redis import RedisStreamBroker

    if not isinstance(broker, RedisStreamBroker):
        return
    try:
        async with Redis(connection_pool=broker.connection_pool) as redis:
            await redis.xgroup_create(
                broker.queue_name, broker.consumer_group_name, id="0", mkstream=True
            )
        _log.warning("the job stream's consumer group was gone; made it again")
    except RedisError as exc:  # BUSYGROUP: another worker made it first; or Redis is away
        _log.info("could not make the job stream's consumer group again: %s", exc)


class JobQueue:
    def __init__(self, settings: Settings, runtime: JobRuntime | None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.broker = _broker(settings)

        async def run_one(job_id: str) -> None:  # taskiq wants a plain function
            await self._run(job_id)

        self._task = self.broker.register_task(run_one, task_name=TASK_NAME)
        self._receiver: asyncio.Task[None] | None = None
        # taskiq's in-memory broker runs every kicked task at once (its max_async_tasks
        # bounds only a receiver, which embedded mode has none of): without this, a
        # hundred queued jobs would all run together, each a hundred times slower.
        self._slots = asyncio.Semaphore(settings.jobs.concurrency)
        self._waiting_for_a_slot: set[str] = set()

    @property
    def distributed(self) -> bool:
        return self.settings.redis_url is not None

    async def _run(self, job_id: str) -> None:
        if self.runtime is None:
            raise RuntimeError("this process does not run jobs")
        if self.distributed:  # the receiver starts one only when a slot is free
            await run_job(self.runtime, job_id)
            return
        # Each sweep re-kicks every job queued for long: without this, a backlog grew a
        # task per job per sweep, all waiting here. One waiting per job is enough (a
        # message is a hint: the task runs whichever job is next in line).
        if job_id in self._waiting_for_a_slot:
            return
        self._waiting_for_a_slot.add(job_id)
        try:
            await self._slots.acquire()
        finally:  # its wait is over, got or cancelled: a later kick may wait again
            self._waiting_for_a_slot.discard(job_id)
        try:
            await run_job(self.runtime, job_id)
        finally:
            self._slots.release()

    async def start(self) -> None:
        await self.broker.startup()

    async def start_receiving(self) -> None:
        """Run jobs from the Redis stream in this process (`scaispeak worker`)."""
        if self.distributed:
            await self.forget_consumers(idle_ms=IDLE_CONSUMER_MS)
            self._receiver = asyncio.create_task(
                run_receiver_task(
                    self.broker,
                    receiver_cls=_receiver_backing_off(self.settings.jobs.concurrency),
                    max_async_tasks=self.settings.jobs.concurrency,
                    ack_time=AcknowledgeType.WHEN_EXECUTED,
                )
            )

    async def stop(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()
            # Bounded: taskiq 0.13 with redis-py 8 sometimes loses the cancel of a read
            # blocked in XREADGROUP and would wait for the next message forever (a
            # worker that never exits on SIGTERM). Closing the broker's connections
            # below ends that read.
            await asyncio.wait({receiver}, timeout=_RECEIVER_STOP_S)
            await self.forget_consumers(only=self._consumer_name())
        await self.broker.shutdown()
        if receiver is not None:
            await _reap(receiver)

    async def kick(self, job_id: str) -> None:
        await self._task.kiq(job_id)

    async def forget_consumers(self, *, idle_ms: int = 0, only: str | None = None) -> list[str]:
        """Remove the stream's consumers (``only`` that one) that hold no message and
        have been idle ``idle_ms``; returns their names.

        Each worker process joins the consumer group under a name of its own, and
        Redis keeps a consumer until it is deleted: without this, every restart or
        crash would leave one behind for good. One holding messages is never removed
        (they would become unclaimable); its messages go to a live worker after
        ``redelivery_idle_ms``, and it goes at a later start. Best effort: Redis
        being unreachable here must not stop a worker starting or stopping.
        """
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        stream = self.settings.jobs.queue_name
        group = _group_name(self.settings)
        removed: list[str] = []
        try:
            async with Redis(connection_pool=self.broker.connection_pool) as redis:  # type: ignore[attr-defined]
                for consumer in await redis.xinfo_consumers(stream, group):
                    name = _text(consumer["name"])
                    someone_else = only is not None and name != only
                    if someone_else or consumer["pending"] or consumer["idle"] < idle_ms:
                        continue
                    await redis.xgroup_delconsumer(stream, group, name)
                    removed.append(name)
        except (RedisError, OSError) as exc:
            _log.warning("could not tidy the job stream's consumers: %r", exc)
        if removed:
            _log.info("removed %d idle consumer(s) of the job stream", len(removed))
        return removed

    def _consumer_name(self) -> str:
        return str(self.broker.consumer_name)  # type: ignore[attr-defined]


async def _reap(receiver: asyncio.Task[None]) -> None:
    done, _ = await asyncio.wait({receiver}, timeout=_RECEIVER_STOP_S)
    if not done:
        _log.warning("the job receiver did not stop; leaving it behind")
    elif not receiver.cancelled() and receiver.exception() is not None:
        _log.info("the job receiver stopped with %r", receiver.exception())


def _broker(settings: Settings) -> AsyncBroker:
    if settings.redis_url:
        from taskiq_redis import RedisStreamBroker

        return RedisStreamBroker(
            settings.redis_url,
            queue_name=settings.jobs.queue_name,
            consumer_group_name=_group_name(settings),
            idle_timeout=settings.jobs.redelivery_idle_ms,
            # One message per read. The receiver asks for the next message only when
            # one of its `concurrency` slots is free, but every message a read returns
            # is this worker's at once (pending under its name): the default of 100
            # let one worker take a burst of jobs and run them one by one while the
            # other workers idled. Reclaiming a dead worker's messages likewise.
            xread_count=1,
            unacknowledged_batch_size=1,
            # Acknowledged messages stay in a stream until trimmed: without a cap it
            # grows by one message per job forever. Trimming may drop a message nobody
            # read yet; the job row is the source of truth and the sweeper re-queues it.
            maxlen=settings.jobs.stream_maxlen,
            approximate=True,
        )
    return InMemoryBroker(max_async_tasks=settings.jobs.concurrency)


def _group_name(settings: Settings) -> str:
    return f"{settings.jobs.queue_name}-workers"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def kick_jobs(db: Database, queue: JobQueue, job_ids: list[str]) -> None:
    """Give jobs to the queue and note when, so the sweeper does not repeat itself.

    A queue that cannot take them (Redis down) is logged, not raised: the rows are the
    source of truth and already committed, and the jobs it did not take are noted as
    never handed over, so the sweeper's next pass tries again.
    """
    if not job_ids:
        return
    await _note_kick(db, job_ids, utcnow())
    not_taken = await _kick_until_refused(queue, job_ids)
    if not_taken:
        await _note_kick(db, not_taken, None)


async def forget_lost_kicks(db: Database) -> None:
    """Embedded mode, at start: the messages of every queued job died with the process
    that held them in memory. Noted as never kicked, they are kicked by the sweep that
    runs at start; noted as kicked, they sat idle for ``requeue_after_s`` (helper-99:
    54 jobs, 2 minutes, after a restart)."""
    async with db.sessions() as session:
        await session.execute(
            update(SynthJob).where(SynthJob.state == JobState.queued).values(last_kick_at=None)
        )
        await session.commit()


async def _note_kick(db: Database, job_ids: list[str], when: datetime | None) -> None:
    async with db.sessions() as session:
        await session.execute(
            update(SynthJob).where(SynthJob.id.in_(job_ids)).values(last_kick_at=when)
        )
        await session.commit()


async def _kick_until_refused(queue: JobQueue, job_ids: list[str]) -> list[str]:
    """Kick each job; returns those the queue did not take. Stops at the first refusal:
    a queue that is down refuses the rest too, each after its own connection attempt."""
    for index, job_id in enumerate(job_ids):
        try:
            await queue.kick(job_id)
        except Exception as exc:
            left = job_ids[index:]
            _log.warning("queue refused %d job(s), left to the sweeper: %r", len(left), exc)
            return left
    return []


async def sweep_once(db: Database, queue: JobQueue) -> list[str]:
    """Re-queue jobs whose worker died (lease expired) or that waited too long: the
    ``SWEEP_BATCH`` that have waited longest; the next pass takes the next ones (a
    backlog in one statement passed PostgreSQL's 32,767 bind parameters)."""
    now = utcnow()
    long_ago = now - timedelta(seconds=queue.settings.jobs.requeue_after_s)
    never_or_long_ago = or_(SynthJob.last_kick_at.is_(None), SynthJob.last_kick_at < long_ago)
    stuck = select(SynthJob.id).where(
        or_(
            # A dead worker: re-queue once after its lease ran out (then at most every
            # requeue_after_s, in case that message is lost too).
            and_(
                SynthJob.state == JobState.running,
                SynthJob.lease_until < now,
                or_(SynthJob.last_kick_at < SynthJob.lease_until, never_or_long_ago),
            ),
            # A lost message: queued for long with nobody taking it.
            and_(SynthJob.state == JobState.queued, never_or_long_ago),
        )
    )
    stuck = stuck.order_by(SynthJob.created_at, SynthJob.id).limit(SWEEP_BATCH)
    async with db.sessions() as session:
        job_ids = list((await session.execute(stuck)).scalars())
    await kick_jobs(db, queue, job_ids)
    return job_ids


async def _sweep_leftovers(db: Database, queue: JobQueue) -> None:
    """Leftover blobs, for at most one sweep interval: a store that hangs must not hold
    up the rest of the sweeping (stuck jobs, webhooks) with it."""
    if queue.runtime is None:
        return
    budget_s = max(queue.settings.jobs.sweep_interval_s, 5.0)
    try:
        async with asyncio.timeout(budget_s):
            await leftovers.sweep(db, queue.runtime.storage)
    except TimeoutError:
        _log.warning("leftover blobs: sweep cut off after %g s; the next one goes on", budget_s)


async def sweep_forever(db: Database, queue: JobQueue) -> None:
    while True:
        for step in (_requeue_stuck, resume_webhooks, _expire_results, _sweep_leftovers):
            try:
                await step(db, queue)
            except Exception:  # each step outlives a database hiccup, and the others' failures
                _log.exception("job sweep: %s failed", step.__name__)
        await asyncio.sleep(queue.settings.jobs.sweep_interval_s)


async def _requeue_stuck(db: Database, queue: JobQueue) -> None:
    found = await sweep_once(db, queue)
    if found:
        _log.info("re-queued %d stuck jobs", len(found))


async def _expire_results(db: Database, queue: JobQueue) -> None:
    if queue.runtime is not None:
        ttl_s = queue.settings.jobs.result_ttl_s
        await retention.expire_results(db, queue.runtime.storage, ttl_s)
        await retention.forget_texts(db, ttl_s)


async def resume_webhooks(db: Database, queue: JobQueue) -> list[str]:
    """Deliver the due events no process is sending: their sender stopped or crashed,
    or a retry's backoff ended (outbox.py). Returns their job ids."""
    if queue.runtime is None:
        return []
    due = await outbox.due_events(db)
    for job_id in due:
        deliver_in_background(queue.runtime, job_id)
    return due
