"""Health, readiness, Prometheus metrics, request ids and structured request logs."""

from __future__ import annotations

import logging
import time
import uuid

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from sqlalchemy import text
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    app.add_middleware(RequestObserver, latency=latency, max_json_bytes=max_json_bytes)

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


class RequestObserver:
    """Request ids, the JSON size limit, latency metrics and access logs.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    relays every response through a memory stream and a task group (on the 2-core
    benchmark machine, a request reached its first dependency 1.1 → 0.8 ms after
    arriving once this replaced it: docs/benchmarks.md).
    Latency is taken when the response starts, as the client sees its first byte.
    """

    def __init__(self, app: ASGIApp, latency: Histogram, max_json_bytes: int) -> None:
        self.app = app
        self.latency = latency
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
                self._observe(scope, message["status"], started, request_id)
            await send(message)

        if _json_too_large(headers, scope["path"], self.max_json_bytes):
            limit = self.max_json_bytes
            detail = f"JSON bodies are limited to {limit} bytes."
            response = problem_response(
                413, "payload_too_large", "Payload too large", detail, scope["path"]
            )
            await response(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _observe(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.latency.labels(method, route, str(status)).observe(elapsed)
        _log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )


def _json_too_large(headers: Headers, path: str, limit: int) -> bool:
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    if path.startswith("/v1/drive/") and "/files/" in path:
        return False  # a stored file that happens to be JSON: the drive's own limit applies
    length = headers.get("content-length", "")
    return length.isdigit() and int(length) > limit


async def _db_answers(db: Database) -> bool:
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # readiness must report, never raise
        return False
