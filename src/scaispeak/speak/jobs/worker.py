"""Where jobs run: inside `serve` (embedded), or in `scaispeak worker` processes."""

from __future__ import annotations

import asyncio
import logging
import signal

from scaispeak.platform.db import Database, open_database
from scaispeak.platform.storage import BlobStore, open_blob_store
from scaispeak.settings import Settings
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs import lease
from scaispeak.speak.jobs.assembly import prepare_scratch
from scaispeak.speak.jobs.outbox import drain_notifications
from scaispeak.speak.jobs.queue import forget_lost_kicks, sweep_forever

_log = logging.getLogger(__name__)


async def start_jobs(db: Database, speak: SpeakContext) -> asyncio.Task[None] | None:
    """Start the queue; a process that runs jobs also runs the sweeper."""
    queue = speak.jobs
    await queue.start()
    if queue.runtime is None:
        return None
    await asyncio.to_thread(prepare_scratch, queue.runtime.scratch_dir)
    if not queue.distributed:
        # Embedded: a job left "running" by a crash of this machine's service resumes now
        # (docs/jobs.md), not when its lease lapses.
        await lease.expire_leases_of_dead_processes(db)
        await forget_lost_kicks(db)  # and a queued job's message died with it
    await queue.start_receiving()
    return asyncio.create_task(sweep_forever(db, queue))


async def stop_jobs(speak: SpeakContext, sweeper: asyncio.Task[None] | None) -> None:
    """Stop taking jobs, then let webhook deliveries in flight finish. They get one
    delivery timeout (``webhook_timeout_s``) together: the time an attempt already sent
    may still take, and a bound on how long a stop waits."""
    if speak.jobs.runtime is not None:
        speak.jobs.runtime.stopping = True  # jobs cancelled from here on are handed back
    if sweeper is not None:
        sweeper.cancel()
        await asyncio.gather(sweeper, return_exceptions=True)
    await speak.jobs.stop()
    runtime = speak.jobs.runtime
    if runtime is not None:
        await drain_notifications(runtime, runtime.settings.webhook_timeout_s)


JOB_STOP_GRACE_S = 10.0
"""How long a stop waits for running jobs to hand themselves back once the inference
pool is shut (a database or storage call in progress) before cancelling them."""


async def shut_down(speak: SpeakContext) -> None:
    """After ``stop_jobs``: shut the inference pool, under which every running job hands
    itself back for a successor, and wait for those jobs to end. Without the wait the
    process closed its database and clients under them, and exited with hand-backs
    undone: a job then sat out its lease, and its run counted as a crash."""
    speak.pool.shutdown()
    runtime = speak.jobs.runtime
    if runtime is None or not runtime.running:
        return
    running = set(runtime.running)
    _, late = await asyncio.wait(running, timeout=JOB_STOP_GRACE_S)
    for task in late:
        task.cancel()  # rt.stopping is set: a cancelled job is handed back too
    await asyncio.gather(*late, return_exceptions=True)


async def run_worker(settings: Settings, ops_address: tuple[str, int] | None = None) -> None:
    """`scaispeak worker`: execute jobs from Redis until SIGTERM/SIGINT.

    With ``ops_address`` (host, port) it serves `/healthz`, `/readyz` and `/metrics`
    there: live from the start (a long migration behind another process's lock is
    not a dead worker), ready once its models are loaded and jobs flow. A signal
    during start-up stops it once started, without a traceback.
    """
    from prometheus_client import CollectorRegistry

    from scaispeak.platform.ops_server import OpsServer
    from scaispeak.platform.readiness import check_dependencies, probes_for
    from scaispeak.speak.jobs.gauges import JobGauges
    from scaispeak.speak.metrics import SpeakMetrics
    from scaispeak.wiring import build_speak_context, close_speak_clients

    if not settings.redis_url:
        raise SystemExit(
            "`scaispeak worker` needs SCAISPEAK_REDIS_URL (embedded mode runs jobs in serve)"
        )
    settings.resolved_secret_key()  # refuses a missing key before any work
    settings.make_data_dir()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    db = open_database(settings)
    storage = open_blob_store(settings)
    registry = CollectorRegistry()
    ops = OpsServer(
        registry,
        probes_for(db, storage, settings.redis_url),
        before_scrape=[JobGauges(registry, db).refresh],
    )
    if ops_address is not None:
        await ops.start(*ops_address)
    # Refused now, not after the models load: a worker that cannot reach the queue or
    # store would fail every job.
    await check_dependencies(db, storage, settings.redis_url)
    engines = worker_engines(settings, storage)
    await asyncio.to_thread(engines.warm_all)
    speak = build_speak_context(
        settings,
        engines,
        SpeakMetrics(registry),
        db,
        storage,
        runs_jobs=True,
    )
    sweeper = await start_jobs(db, speak)
    ops.ready = True
    _log.info("worker %s ready", speak.jobs.runtime.worker_id if speak.jobs.runtime else "?")
    await stop.wait()
    ops.ready = False  # stopping: take no new work from here on
    await stop_jobs(speak, sweeper)
    await shut_down(speak)
    await close_speak_clients(speak)
    await ops.stop()
    await db.dispose()


def worker_engines(settings: Settings, storage: BlobStore) -> EngineRegistry:
    """The engines `serve` has, cloned voices' included: a job with a cloned voice,
    accepted by the API, must find its engine in whichever process runs it."""
    from scaispeak.speak.engines.registry import build_engines
    from scaispeak.speak.voices.blobs import EmbeddingLoader
    from scaispeak.speak.voices.setup import with_cloning

    loader = EmbeddingLoader(storage)
    loader.bind(asyncio.get_running_loop())
    return with_cloning(build_engines(settings), loader, settings.cloning).engines
