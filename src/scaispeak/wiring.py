"""Building the long-lived objects one process needs, shared by `serve` and `worker`."""

from __future__ import annotations

import os
import socket
import uuid

from scaispeak.platform.db import Database
from scaispeak.platform.limits import MemoryLimiter, RedisLimiter
from scaispeak.platform.storage.base import BlobStore
from scaispeak.platform.tenant_cache import TenantCache
from scaispeak.settings import Settings
from scaispeak.speak.backends.catalog import BackendCatalog
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from scaispeak.speak.jobs.models import LEASE_OWNER_MAX
from scaispeak.speak.jobs.queue import JobQueue
from scaispeak.speak.jobs.runtime import JobRuntime
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.streaming.admission import ActiveStreams, RedisStreamSlots
from scaispeak.speak.synthesis.inference import inference_pool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline


def build_speak_context(
    settings: Settings,
    engines: EngineRegistry,
    metrics: SpeakMetrics,
    db: Database,
    storage: BlobStore,
    *,
    runs_jobs: bool,
) -> SpeakContext:
    """Engines (plus the relay when configured), pool, pipeline, backends and job queue.

    ``runs_jobs`` says whether this process executes jobs; without Redis it always
    does (the in-memory queue lives in this process).
    """
    relay = RelayEngine(settings.backends.relay) if settings.backends.relay.base_url else None
    if relay is not None:
        engines = engines.extended(relay)
    pool = inference_pool(settings.engines)
    pipeline = SynthesisPipeline(
        engines,
        pool,
        settings.engines,
        metrics,
        fingerprint_seconds=settings.provenance.fingerprint_max_seconds,
    )
    runtime = JobRuntime(
        db=db,
        storage=storage,
        pipeline=pipeline,
        settings=settings.jobs,
        worker_id=job_worker_id(),
        signing_key=settings.resolved_secret_key(),
        scratch_dir=settings.data_dir / "scratch" / "jobs",
        drive_quota_bytes=settings.limits.drive_tenant_max_bytes,
    )
    executes = runs_jobs or settings.redis_url is None
    return SpeakContext(
        engines=engines,
        pool=pool,
        pipeline=pipeline,
        metrics=metrics,
        catalog=BackendCatalog(engines, relay),
        default_backend=settings.backends.default,
        jobs=JobQueue(settings, runtime if executes else None),
        streams=ActiveStreams(shared_stream_slots(settings)),
        backend_policies=TenantCache(settings.policy_cache_s),
        watermark_policies=TenantCache(settings.policy_cache_s),
    )


async def close_speak_clients(speak: SpeakContext) -> None:
    """Close the connections ``speak`` holds (the relay's HTTP session, the shared
    stream slots' Redis client) at the end of the process that built it."""
    if speak.catalog.relay is not None:
        await speak.catalog.relay.close()
    if speak.streams.shared is not None:
        await speak.streams.shared.close()


def job_worker_id() -> str:
    """``<host>-<pid>-<random>``: readable in ``lease_owner`` and unique per process.

    The column holds LEASE_OWNER_MAX characters and PostgreSQL refuses longer values
    (every claim would fail), so a long host name (a cloud FQDN) is cut short; the pid
    and the random part, which make the id unique, are always kept whole.
    """
    suffix = f"-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return socket.gethostname()[: LEASE_OWNER_MAX - len(suffix)] + suffix


def shared_stream_slots(settings: Settings) -> RedisStreamSlots | None:
    """With Redis, the per-tenant stream cap spans every API replica."""
    if not settings.redis_url:
        return None
    return RedisStreamSlots(settings.redis_url, settings.streaming.shared_slot_ttl_s)


def tenant_limiter(settings: Settings) -> MemoryLimiter | RedisLimiter:
    limits = settings.accounting
    if settings.redis_url:
        return RedisLimiter(
            settings.redis_url,
            limits.max_concurrent_per_tenant,
            limits.requests_per_minute_per_tenant,
        )
    return MemoryLimiter(limits.max_concurrent_per_tenant, limits.requests_per_minute_per_tenant)
