"""Everything the speech module's transports share within one process."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from scaispeak.platform.tenant_cache import TenantCache
from scaispeak.speak.backends.catalog import BackendCatalog
from scaispeak.speak.backends.policy import Policy
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.queue import JobQueue
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.service import WatermarkPolicy
from scaispeak.speak.streaming.admission import ActiveStreams
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline


@dataclass
class SpeakContext:
    engines: EngineRegistry
    pool: InferencePool
    pipeline: SynthesisPipeline
    metrics: SpeakMetrics
    catalog: BackendCatalog
    default_backend: str
    jobs: JobQueue
    streams: ActiveStreams = field(default_factory=ActiveStreams)
    """Real-time streams open in this process, for the per-tenant cap."""
    backend_policies: TenantCache[Policy] = field(default_factory=lambda: TenantCache(0))
    watermark_policies: TenantCache[WatermarkPolicy] = field(default_factory=lambda: TenantCache(0))
    """Tenants' policies as this replica last read them (``SCAISPEAK_POLICY_CACHE_S``)."""


def speak_context(conn: HTTPConnection) -> SpeakContext:
    ctx: SpeakContext = conn.app.state.speak
    return ctx
