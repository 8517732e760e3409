"""The relay's key and the upstream's answers stay between us and the upstream: what a
caller (or any tenant, in the backends listing) is told of a failing upstream is its
status or the kind of failure, never its body or aiohttp's text of our request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from scaispeak.settings import RelaySettings
from scaispeak.speak.engines.base import EngineError
from scaispeak.speak.engines.relay import RelayEngine
from tests.support.server import free_port

KEY = "sk-proj-0123456789SECRET"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def relay_to(handler: Handler) -> AsyncIterator[tuple[RelayEngine, list[str]]]:
    """A relay (with ``KEY``) in front of ``handler``; the list records each path asked."""
    asked: list[str] = []

    async def recorded(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        await request.read()
        return await handler(request)

    app = web.Application()
    app.router.add_post("/{tail:.*}", recorded)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    relay = RelayEngine(
        RelaySettings(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, retries=0)
    )
    try:
        yield relay, asked
    finally:
        await relay.close()
        await runner.cleanup()


async def redirect_to_itself(request: web.Request) -> web.StreamResponse:
    raise web.HTTPTemporaryRedirect(str(request.url))


async def echo_the_key(request: web.Request) -> web.StreamResponse:
    said = request.headers["Authorization"]
    return web.Response(status=401, text=f"Incorrect API key provided: {said}")


async def oversized_header(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"\x00\x00", headers={"X-Big": "a" * 10_000})


@pytest.mark.parametrize("handler", [redirect_to_itself, echo_the_key, oversized_header])
async def test_a_failing_upstream_is_described_without_our_key(handler: Handler) -> None:
    async with relay_to(handler) as (relay, asked):
        with pytest.raises(EngineError) as failed:
            await relay.synthesize_async("Hello.", "alloy")
    told = str(failed.value)
    assert "SECRET" not in told and "SECRET" not in (relay.breaker.last_error or "")
    assert "127.0.0.1" not in told
    assert asked == ["/v1/audio/speech"]  # a redirect is not followed (our key would be)
