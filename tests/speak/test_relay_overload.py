"""The relay under pressure, as a caller of /speak meets it: an upstream asking for a
pause is not hammered and its pause reaches the caller; a self-hosted backend whose
inference queue is full hands the request to the relay where the policy fails over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import ServerBusy
from tests.platform.test_auth import assert_problem
from tests.speak.test_backends import speak
from tests.support.relay import Upstream, handler_upstream, put_policy, relaying_app


@asynccontextmanager
async def rate_limited_upstream(retry_after: str) -> AsyncIterator[tuple[str, list[str]]]:
    asked: list[str] = []

    async def limited(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        return web.Response(status=429, headers={"Retry-After": retry_after}, text="slow down")

    async with handler_upstream(limited) as url:
        yield url, asked


async def test_an_upstreams_long_retry_after_reaches_the_caller_of_a_503(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    async with (
        rate_limited_upstream("30") as (url, asked),
        relaying_app(tmp_path, engines, url, "x", retries=2) as app,
    ):
        await put_policy(app, ["relay"], "relay", failover=False)
        refused = await speak(app, "Please slow down.")
        assert_problem(refused, 503, "backend_unavailable")
        assert refused.headers["retry-after"] == "30"
        assert len(asked) == 1  # not retried into the upstream's pause


async def test_a_full_inference_queue_fails_over_to_the_relay(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overload is when failover is wanted most; it answered 503 server_busy."""
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await put_policy(app, ["selfhosted", "relay"], "selfhosted", failover=True)

        async def full(*args: Any, **kwargs: Any) -> Any:
            raise ServerBusy("The inference queue is full.")

        monkeypatch.setattr(app.app.state.speak.pipeline.pool, "run", full)
        response = await speak(app, "Busy here, try the relay.")
        assert response.status_code == 200, response.text
        assert response.headers["x-scaispeak-backend"] == "relay"


async def test_a_full_queue_whose_fallback_fails_too_still_says_when_to_come_back(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay after it refused (a 429 asking for no pause): the caller got the
    relay's 503 with no Retry-After, where the queue had said 7 s."""
    async with (
        rate_limited_upstream("0") as (url, _asked),
        relaying_app(tmp_path, engines, url, "x", retries=0) as app,
    ):
        await put_policy(app, ["selfhosted", "relay"], "selfhosted", failover=True)

        async def full(*args: Any, **kwargs: Any) -> Any:
            raise ServerBusy("The inference queue is full.", retry_after=7)

        monkeypatch.setattr(app.app.state.speak.pipeline.pool, "run", full)
        refused = await speak(app, "Everyone is busy.")
        assert_problem(refused, 503, "server_busy")
        assert refused.headers["retry-after"] == "7"
