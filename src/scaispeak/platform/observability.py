"""Health, readiness, Prometheus metrics, request ids and structured request logs.

Request bodies are limited by platform/body_limits.py, installed here inside the
observer so its 413 carries a request id and is logged like any response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scaispeak.platform.body_limits import BodyLimit, UploadRoute
from scaispeak.platform.readiness import Probe, check_all

_log = logging.getLogger("scaispeak.access")

Refresh = Callable[[], Awaitable[None]]

_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""What a client's X-Request-Id may be to be used as ours: it is stored (ledger and
provenance rows hold 64 characters) and logged, so it must be short and inert."""


def install(
    app: FastAPI,
    registry: CollectorRegistry,
    probes: Mapping[str, Probe],
    max_json_bytes: int,
    before_scrape: Sequence[Refresh] = (),
    upload_routes: Sequence[UploadRoute] = (),
) -> None:
    """``probes``: the dependencies `/readyz` checks (platform/readiness.py);
    ``before_scrape``: gauges read from elsewhere when `/metrics` is asked for."""
    latency = Histogram(
        "scaispeak_http_request_seconds",
        "HTTP request latency by route and status.",
        ["method", "route", "status"],
        registry=registry,
    )

    # Added last, so outermost: the body limit's 413 passes through the observer.
    app.add_middleware(BodyLimit, max_json_bytes=max_json_bytes, upload_routes=upload_routes)
    app.add_middleware(RequestObserver, latency=latency)
    app.include_router(ops_router(registry, probes, before_scrape))


def ops_router(
    registry: CollectorRegistry, probes: Mapping[str, Probe], before_scrape: Sequence[Refresh] = ()
) -> APIRouter:
    """Liveness, readiness and metrics: served by the API and by `scaispeak worker`.

    Ready needs ``app.state.ready`` (migrated, models loaded) and every probe passing.
    """
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks = {"startup": bool(request.app.state.ready), **(await check_all(probes))}
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @router.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        for refresh in before_scrape:
            await refresh()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestObserver:
    """Request ids, latency metrics and access logs.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    relays every response through a memory stream and a task group (on the 2-core
    benchmark machine, a request reached its first dependency 1.1 → 0.8 ms after
    arriving once this replaced it: docs/benchmarks.md).
    Latency is taken when the response starts, as the client sees its first byte.
    """

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        client_id = client_request_id(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                if client_id:
                    headers["X-Client-Request-Id"] = client_id
                self._observe(scope, message["status"], started, request_id, client_id)
            await send(message)

        await self.app(scope, receive, send_with_id)

    def _observe(
        self, scope: Scope, status: int, started: float, request_id: str, client_id: str | None
    ) -> None:
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.latency.labels(method, route, str(status)).observe(elapsed)
        _log.info(
            "request",
            extra={
                "request_id": request_id,
                "client_request_id": client_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )


def client_request_id(headers: Headers) -> str | None:
    """The client's own id for the request (``X-Client-Request-Id``, or the older
    ``X-Request-Id``) when it is a safe one: logged and echoed, for correlation only.

    Never the request's id: that names the request in the ledger and in provenance
    records, where a client choosing it could make its clip trace to someone else's.
    """
    for name in ("x-client-request-id", "x-request-id"):
        offered = headers.get(name, "")
        if _CLIENT_REQUEST_ID.fullmatch(offered):
            return offered
    return None
