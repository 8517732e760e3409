"""Health, readiness, Prometheus metrics, request ids and structured request logs."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from sqlalchemy import text

from scaispeak.platform.db import Database
from scaispeak.platform.errors import problem_response

_log = logging.getLogger("scaispeak.access")


def install(app: FastAPI, registry: CollectorRegistry, db: Database, max_json_bytes: int) -> None:
    latency = Histogram(
        "scaispeak_http_request_seconds",
        "HTTP request latency by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        if _json_too_large(request, max_json_bytes):
            response: Response = problem_response(
                413,
                "payload_too_large",
                "Payload too large",
                f"JSON bodies are limited to {max_json_bytes} bytes.",
                request.url.path,
            )
        else:
            response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        latency.labels(request.method, route, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-Id"] = request_id
        _log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        checks = {"startup": bool(request.app.state.ready), "database": await _db_answers(db)}
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _json_too_large(request: Request, limit: int) -> bool:
    if not request.headers.get("content-type", "").startswith("application/json"):
        return False
    if request.url.path.startswith("/v1/drive/") and "/files/" in request.url.path:
        return False  # a stored file that happens to be JSON: the drive's own limit applies
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) > limit


async def _db_answers(db: Database) -> bool:
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # readiness must report, never raise
        return False
