"""create_app(settings): the host platform with the ScaiSpeak module mounted on it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from scaispeak import __version__
from scaispeak.platform import observability
from scaispeak.platform.accounting.endpoints import router as accounting_router
from scaispeak.platform.accounting.sweeper import sweep_stale_holds, sweep_stale_holds_forever
from scaispeak.platform.auth.endpoints import router as auth_router
from scaispeak.platform.auth.service import bootstrap
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.db import Database, open_database
from scaispeak.platform.drive.endpoints import router as drive_router
from scaispeak.platform.drive.service import hand_over_shares_of
from scaispeak.platform.errors import Conflict, install_problem_handlers
from scaispeak.platform.head_requests import HeadAsGet
from scaispeak.platform.in_flight import CountInFlight, InFlight
from scaispeak.platform.limits import RedisLimiter
from scaispeak.platform.openapi import document_problems
from scaispeak.platform.readiness import check_dependencies, probes_for
from scaispeak.platform.storage import open_blob_store
from scaispeak.platform.unhandled import AnswerUnhandled
from scaispeak.platform.upload_auth import AuthenticateUploads
from scaispeak.settings import Settings
from scaispeak.speak.backends.endpoints import router as backends_router
from scaispeak.speak.engines.registry import EngineRegistry, build_engines
from scaispeak.speak.jobs.endpoints import router as jobs_router
from scaispeak.speak.jobs.gauges import JobGauges
from scaispeak.speak.jobs.service import cancel_jobs_of_voice
from scaispeak.speak.jobs.worker import shut_down, start_jobs, stop_jobs
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.offboarding import remove_speech_of_user
from scaispeak.speak.provenance.endpoints import router as provenance_router
from scaispeak.speak.transports import http as speak_http
from scaispeak.speak.transports import openai_compat
from scaispeak.speak.transports import webrtc as speak_webrtc
from scaispeak.speak.transports import websocket as speak_websocket
from scaispeak.speak.transports.rtc_sessions import RtcSessions
from scaispeak.speak.voices.blobs import EmbeddingLoader
from scaispeak.speak.voices.seed import seed_global_voices
from scaispeak.speak.voices.setup import (
    build_voices_runtime,
    start_voices,
    stop_voices,
    voice_routers,
    with_cloning,
)
from scaispeak.wiring import build_speak_context, close_speak_clients, tenant_limiter

_log = logging.getLogger("scaispeak")

CUT_OFF_CLEANUP_S = 10.0
"""How long a shutdown waits for the requests its stop cut off to clean up."""


def create_app(
    settings: Settings | None = None,
    engines: EngineRegistry | None = None,
    *,
    runs_jobs: bool = True,
) -> FastAPI:
    """Build the application.

    ``engines`` lets tests share loaded models across apps; ``runs_jobs=False`` is
    `serve --no-worker` (with Redis, jobs then run only in `scaispeak worker`).
    """
    settings = settings or Settings()
    settings.make_data_dir()
    registry = CollectorRegistry()
    db = open_database(settings)
    storage = open_blob_store(settings)
    loader = EmbeddingLoader(storage)
    cloning = with_cloning(engines or build_engines(settings), loader, settings.cloning)
    speak = build_speak_context(
        settings,
        cloning.engines,
        SpeakMetrics(registry),
        db,
        storage,
        runs_jobs=runs_jobs,
    )
    limiter = tenant_limiter(settings)
    voices = build_voices_runtime(settings, db, storage, loader, cloning)

    async def stop_jobs_of_revoked_voice(voice_id: str) -> None:
        await cancel_jobs_of_voice(db, voice_id, storage)

    voices.on_revoke.append(stop_jobs_of_revoked_voice)

    in_flight = InFlight()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Checked by `serve` already, before the models' import; again for an app made
        # some other way (tests, an ASGI server of the operator's own), at little cost.
        await check_dependencies(db, storage, settings.redis_url)
        async with db.sessions() as session:
            await seed_global_voices(session, speak.engines)
        await sweep_stale_holds(db, settings.accounting)
        if settings.bootstrap_on_start:
            await _bootstrap_first_start(db)
        # Loading models takes seconds; do it before declaring ready, off the loop.
        _log.info("loading the voices' models (up to a minute); ready when it says so")
        await asyncio.to_thread(speak.engines.warm_all)
        sweeper = await start_jobs(db, speak)
        hold_sweeper = asyncio.create_task(sweep_stale_holds_forever(db, settings.accounting))
        await start_voices(voices)
        app.state.ready = True
        _log.info("ready: serving ScaiSpeak %s", __version__)
        yield
        app.state.ready = False
        # Requests a stop's grace cut off are still giving their holds back.
        if not await in_flight.drained(CUT_OFF_CLEANUP_S):
            _log.warning("%d requests still open as the app shuts down", in_flight.open)
        hold_sweeper.cancel()
        await asyncio.gather(hold_sweeper, return_exceptions=True)  # before db.dispose
        await app.state.webrtc_sessions.close_all()
        await stop_voices(voices)
        await stop_jobs(speak, sweeper)
        await shut_down(speak)
        await close_speak_clients(speak)
        if isinstance(limiter, RedisLimiter):
            await limiter.close()
        await db.dispose()

    app = FastAPI(
        title="ScaiSpeak",
        version=__version__,
        lifespan=lifespan,
        description="Self-hostable text-to-speech. Errors are RFC 9457 problem+json.",
        # "/v1/tenants/" is a 404 problem like any unknown path: the redirect was an
        # undocumented 307 to an http:// URL built from the client's Host header.
        redirect_slashes=False,
    )
    app.state.ready = False
    app.state.platform = PlatformContext(
        settings, db, settings.resolved_secret_key(), limiter, storage=storage
    )

    async def remove_what_they_made(user_id: str, by: str) -> None:
        await remove_speech_of_user(db, storage, voices, user_id, by)  # jobs first: they save
        async with db.sessions() as session:  # into shares, which then change hands
            await hand_over_shares_of(session, user_id)

    app.state.platform.on_user_deleted.append(remove_what_they_made)
    app.state.speak = speak
    app.state.voices = voices
    app.state.webrtc_sessions = RtcSessions()
    install_problem_handlers(app)
    app.add_middleware(AnswerUnhandled)
    app.add_middleware(CountInFlight, calls=in_flight)  # around the 503 a cut-off answers
    document_problems(app)
    # Innermost of the middleware: the access log and metrics see the HEAD as sent.
    app.add_middleware(HeadAsGet, router=app.router)
    app.add_middleware(AuthenticateUploads, upload_routes=UPLOAD_ROUTES)
    observability.install(
        app,
        registry,
        probes_for(db, storage, settings.redis_url),
        settings.limits.max_json_bytes,
        before_scrape=[JobGauges(registry, db).refresh],
        upload_routes=UPLOAD_ROUTES,
    )
    app.include_router(auth_router)
    app.include_router(drive_router)
    app.include_router(accounting_router)
    app.include_router(backends_router)
    app.include_router(speak_http.router)
    for router in voice_routers():
        app.include_router(router)
    app.include_router(openai_compat.router)
    app.include_router(speak_websocket.router)
    app.include_router(speak_webrtc.router)
    app.include_router(jobs_router)
    app.include_router(provenance_router)
    return app


_MODULE = "/v1/modules/scaispeak"
UPLOAD_ROUTES = [
    (method, re.compile(_MODULE + path))
    for method, path in [
        ("POST", "/voices/preflight"),
        ("POST", "/voices/clone"),
        ("POST", "/voices/clone/document"),
        ("PUT", "/voices/global/[^/]+/licence/proof"),
        ("POST", "/detect"),
    ]
]
"""The routes that take multipart uploads (platform/body_limits.py): only these may
send more than the JSON limit as multipart/form-data."""


async def _bootstrap_first_start(db: Database) -> None:
    async with db.sessions() as session:
        try:
            created = await bootstrap(session, "default", "admin@localhost", only_if_empty=True)
        except Conflict:  # an operator made admin@localhost first: nothing to do here
            created = None
    if created is not None:
        # Printed once, on the console of the person who started the service.
        print(
            "\nScaiSpeak first start: created tenant "
            f"{created.tenant.id} and superadmin {created.user.email}.\n"
            f"API key (shown once, keep it): {created.key.secret}\n",
            flush=True,
        )
