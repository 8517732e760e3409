"""Assembling the voice domain for one process: runtime, cloning engine, routers.

``app.py`` calls ``with_cloning`` while it builds the engine registry (the cloning
engine reads embeddings through ``EmbeddingLoader``), ``build_voices_runtime`` once,
and ``start_voices``/``stop_voices`` in its lifespan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter

from scaispeak.platform.db import Database
from scaispeak.platform.storage import BlobStore
from scaispeak.settings import CloningSettings, Settings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.voices import purges, speech_models
from scaispeak.speak.voices.admin_endpoints import router as admin_router
from scaispeak.speak.voices.analysis import AnalysisPool
from scaispeak.speak.voices.blobs import EmbeddingLoader
from scaispeak.speak.voices.builder import VoiceBuilder
from scaispeak.speak.voices.endpoints import router as library_router
from scaispeak.speak.voices.intake_endpoints import router as intake_router
from scaispeak.speak.voices.lifecycle import BuildContext, VoiceFitter
from scaispeak.speak.voices.live_endpoints import router as live_router
from scaispeak.speak.voices.runtime import VoiceCache, VoicesRuntime


@dataclass(frozen=True)
class Cloning:
    """The registry with the cloning engine added, and the engine's two faces the voice
    domain uses: its fitter (builds embeddings) and its cache (warm, forget)."""

    engines: EngineRegistry
    fitter: VoiceFitter | None
    cache: VoiceCache | None


def with_cloning(
    engines: EngineRegistry, loader: EmbeddingLoader, settings: CloningSettings
) -> Cloning:
    """Add the cloning engine (``engine="clone"``), which speaks through Kokoro.

    A registry that already has a ``clone`` engine (a test double, another cloner) is
    kept as it is; without Kokoro there is nothing to clone with.
    """
    if "clone" in engines.names():
        existing = engines.get("clone")
        cache = existing if isinstance(existing, VoiceCache) else None
        return Cloning(engines, None, cache)
    if "kokoro" not in engines.names():
        return Cloning(engines, None, None)
    from scaispeak.speak.engines.cloning import CloneEngine, StyleSearchFitter
    from scaispeak.speak.engines.kokoro import KokoroEngine

    kokoro = engines.get("kokoro")
    assert isinstance(kokoro, KokoroEngine)
    encoder = speech_models.speaker_encoder()
    engine = CloneEngine(kokoro, loader, settings)
    fitter = StyleSearchFitter(kokoro, encoder, settings)
    return Cloning(engines.extended(engine), fitter, engine)


def build_voices_runtime(
    settings: Settings,
    db: Database,
    storage: BlobStore,
    loader: EmbeddingLoader,
    cloning: Cloning,
) -> VoicesRuntime:
    voices = settings.voices
    # Builds get their own threads: a minute-long fit must not hold up preflights. The
    # builder starts no more builds than there are threads (builder.py).
    build_pool = AnalysisPool(voices.build_threads, 1_000, name="voice-build")
    ctx = BuildContext(db, storage, cloning.fitter, build_pool, voices)
    return VoicesRuntime(
        settings=voices,
        storage=storage,
        analysis=AnalysisPool(
            voices.analysis_threads,
            voices.analysis_max_waiting,
            per_owner=voices.analysis_max_per_tenant,
        ),
        builder=VoiceBuilder(ctx),
        loader=loader,
        cache=cloning.cache,
    )


async def start_voices(rt: VoicesRuntime, *, warm_models: bool = True) -> None:
    """Bind the loader to this loop, load the verification models, resume builds and
    the deletions of withdrawn voices' blobs."""
    rt.loader.bind(asyncio.get_running_loop())
    if warm_models:
        await asyncio.to_thread(speech_models.warm)
    await rt.builder.start()
    every_s = purges.RETRY_S
    rt.purger = asyncio.create_task(purges.purge_forever(rt.builder.ctx.db, rt.storage, every_s))


async def stop_voices(rt: VoicesRuntime) -> None:
    if rt.purger is not None:
        rt.purger.cancel()
        await asyncio.gather(rt.purger, return_exceptions=True)
    await rt.builder.stop()
    rt.builder.ctx.pool.shutdown()
    rt.analysis.shutdown()


def voice_routers() -> list[APIRouter]:
    return [library_router, intake_router, admin_router, live_router]
