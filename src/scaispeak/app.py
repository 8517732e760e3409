"""create_app(settings): the host platform with the ScaiSpeak module mounted on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from scaispeak import __version__
from scaispeak.platform import observability
from scaispeak.platform.auth.endpoints import router as auth_router
from scaispeak.platform.auth.service import bootstrap
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.db import Database
from scaispeak.platform.errors import install_problem_handlers
from scaispeak.platform.migrate import upgrade_to_head
from scaispeak.settings import Settings
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.engines.registry import EngineRegistry, build_engines
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.transports import http as speak_http
from scaispeak.speak.transports import openai_compat
from scaispeak.speak.voices.seed import seed_global_voices

_log = logging.getLogger("scaispeak")


def create_app(settings: Settings | None = None, engines: EngineRegistry | None = None) -> FastAPI:
    """Build the application. ``engines`` lets tests share loaded models across apps."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = CollectorRegistry()
    db = Database(settings.resolved_database_url)
    engine_registry = engines or build_engines(settings)
    pool = InferencePool(settings.engines.inference_threads)
    metrics = SpeakMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upgrade_to_head(db.engine)
        async with db.sessions() as session:
            await seed_global_voices(session, engine_registry)
        if settings.bootstrap_on_start:
            await _bootstrap_first_start(db)
        # Loading models takes seconds; do it before declaring ready, off the loop.
        await asyncio.to_thread(engine_registry.warm_all)
        app.state.ready = True
        yield
        app.state.ready = False
        pool.shutdown()
        await db.dispose()

    app = FastAPI(
        title="ScaiSpeak",
        version=__version__,
        lifespan=lifespan,
        description="Self-hostable text-to-speech. Errors are RFC 9457 problem+json.",
    )
    app.state.ready = False
    app.state.platform = PlatformContext(settings, db, settings.resolved_secret_key())
    app.state.speak = SpeakContext(
        engines=engine_registry,
        pool=pool,
        pipeline=SynthesisPipeline(engine_registry, pool, settings.engines, metrics),
        metrics=metrics,
    )
    install_problem_handlers(app)
    observability.install(app, registry, db, settings.limits.max_json_bytes)
    app.include_router(auth_router)
    app.include_router(speak_http.router)
    app.include_router(openai_compat.router)
    return app


async def _bootstrap_first_start(db: Database) -> None:
    async with db.sessions() as session:
        created = await bootstrap(session, "default", "admin@localhost", only_if_empty=True)
    if created is not None:
        # Printed once, on the console of the person who started the service.
        print(
            "\nScaiSpeak first start: created tenant "
            f"{created.tenant.id} and superadmin {created.user.email}.\n"
            f"API key (shown once, keep it): {created.key.secret}\n",
            flush=True,
        )
