"""A failing upstream, as the relay meets it: what a caller (or any tenant, in the
backends listing) is told is its status or the kind of failure, never its body or
aiohttp's text of our request (both can hold our key); and an upstream that never
finishes its answer is cut off."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from scaispeak.settings import RelaySettings
from scaispeak.speak.engines.base import EngineError, EngineUnavailable
from scaispeak.speak.engines.circuit import CircuitBreaker, CircuitState
from scaispeak.speak.engines.relay import RelayEngine
from tests.support.relay import Handler, handler_upstream

KEY = "sk-proj-0123456789SECRET"


@asynccontextmanager
async def relay_to(
    handler: Handler, **settings: Any
) -> AsyncIterator[tuple[RelayEngine, list[str]]]:
    """A relay (with ``KEY``) in front of ``handler``; the list records each path asked."""
    asked: list[str] = []

    async def recorded(request: web.Request) -> web.StreamResponse:
        asked.append(request.path)
        await request.read()
        return await handler(request)

    async with handler_upstream(recorded) as url:
        relay = RelayEngine(
            RelaySettings(base_url=f"{url}/v1", api_key=KEY, **{"retries": 0, **settings})
        )
        try:
            yield relay, asked
        finally:
            await relay.close()


async def redirect_to_itself(request: web.Request) -> web.StreamResponse:
    raise web.HTTPTemporaryRedirect(str(request.url))


async def echo_the_key(request: web.Request) -> web.StreamResponse:
    said = request.headers["Authorization"]
    return web.Response(status=401, text=f"Incorrect API key provided: {said}")


async def echo_the_key_across_the_cut(request: web.Request) -> web.StreamResponse:
    """The key straddles the 200 bytes of the body that are logged."""
    said = request.headers["Authorization"].removeprefix("Bearer ")
    return web.Response(status=401, text="x" * 190 + said)


async def oversized_header(request: web.Request) -> web.StreamResponse:
    return web.Response(body=b"\x00\x00", headers={"X-Big": "a" * 10_000})


async def malformed_length(request: web.Request) -> web.StreamResponse:
    """aiohttp's error for this answer carries our request's headers in its repr."""
    response = web.StreamResponse(headers={"Content-Length": "twelve"})
    await response.prepare(request)
    return response


async def echo_the_key_in_two_writes(request: web.Request) -> web.StreamResponse:
    """The key arrives in two TCP writes: one read returned only its first half."""
    said = request.headers["Authorization"].removeprefix("Bearer ")
    answer = web.StreamResponse(status=401)
    await answer.prepare(request)
    await answer.write(f"Incorrect API key provided: {said[:12]}".encode())
    await asyncio.sleep(0.05)
    await answer.write(said[12:].encode())
    return answer


@pytest.mark.parametrize(
    "handler",
    [
        redirect_to_itself,
        echo_the_key,
        echo_the_key_across_the_cut,
        echo_the_key_in_two_writes,
        oversized_header,
        malformed_length,
    ],
)
async def test_a_failing_upstream_is_described_without_our_key(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    async with relay_to(handler) as (relay, asked):
        with pytest.raises(EngineError) as failed:
            await relay.synthesize_async("Hello.", "alloy")
    told = str(failed.value)
    assert "SECRET" not in told and "SECRET" not in (relay.breaker.last_error or "")
    assert "127.0.0.1" not in told
    assert asked == ["/v1/audio/speech"]  # a redirect is not followed (our key would be)
    logged = [r.getMessage() for r in caplog.records if r.name == "scaispeak.relay"]
    assert logged, "the failure's details go to the log"
    # Unredacted: the relay itself keeps the key out, whatever formatter is configured.
    assert not [line for line in logged if "SECRET" in line or KEY[:10] in line]


async def test_an_upstream_that_trickles_forever_is_cut_off_at_the_call_timeout() -> None:
    """Each byte comes within the read timeout, so only the whole call's limit ends it."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse()
        await answer.prepare(request)
        while True:
            await answer.write(b"\x00\x00")
            await asyncio.sleep(0.05)

    async with relay_to(trickle, call_timeout_s=1.0) as (relay, _asked):
        started = time.monotonic()
        with pytest.raises(EngineUnavailable):
            await asyncio.wait_for(relay.synthesize_async("Hello.", "alloy"), 10)
        assert time.monotonic() - started < 3


async def test_audio_ending_inside_a_sample_is_the_upstreams_failure() -> None:
    """numpy refused the odd byte: a ValueError, a 500 with no failover."""

    async def three_bytes(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x00\x01\x02")

    async with relay_to(three_bytes) as (relay, _):
        with pytest.raises(EngineUnavailable, match="inside a 16-bit sample"):
            await relay.synthesize_async("Hello.", "alloy")
        # A failure of the upstream's, as its health sees it (it counted a success).
        assert "inside a 16-bit sample" in (relay.breaker.last_error or "")


async def test_an_answer_far_longer_than_any_reading_of_the_text_is_cut_off() -> None:
    """An upstream that keeps sending audio quickly is stopped by size, not only by the
    call's timeout: "Hello." cannot take a minute, so its answer is never gathered whole."""
    sent = 0

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        answer = web.StreamResponse()
        await answer.prepare(request)
        block = b"\x00\x01" * 24_000  # a second of 24 kHz pcm
        with contextlib.suppress(ConnectionError):
            while sent < 600 * len(block):
                await answer.write(block)
                sent += len(block)
        return answer

    async with relay_to(endless, call_timeout_s=60.0) as (relay, _asked):
        with pytest.raises(EngineUnavailable, match="far longer"):
            await asyncio.wait_for(relay.synthesize_async("Hello.", "alloy"), 30)
        assert "far longer" in (relay.breaker.last_error or "")
    # The connection was dropped before the upstream could finish (socket buffers on
    # loopback hold some megabytes, so the count is loose).
    assert sent < 600 * 48_000


async def test_a_long_reading_of_dense_text_is_accepted_even_at_a_fast_speed() -> None:
    """Numbers read near 0.5 s a character, and some upstreams ignore ``speed``: a
    reading of 520 such characters asked at speed 2 can last 250 s."""
    text = "123,456,789; " * 40
    long_reading = b"\x00\x01" * 24_000 * 250

    async def long_answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=long_reading)

    async with relay_to(long_answer) as (relay, _asked):
        pcm = await relay.synthesize_async(text, "alloy", speed=2.0)
    assert pcm.size == 24_000 * 250


@pytest.mark.parametrize(
    ("body", "content_type", "failure"),
    [
        pytest.param(b'{"error": "quota"}', "application/json", "not pcm", id="json"),
        pytest.param(b"ID3\x04" + b"\xff\xfb" * 500, "audio/mpeg", "not pcm", id="mp3"),
        pytest.param(b"RIFF" + b"\x00" * 100, "audio/wav", "not pcm", id="wav"),
        # An upstream that ignores response_format=pcm and labels what it sends as
        # bytes (or nothing, which aiohttp reports so) was played as noise.
        pytest.param(
            b"RIFF" + b"\x00" * 100, "application/octet-stream", "not raw pcm", id="wav-as-bytes"
        ),
        pytest.param(
            b"ID3\x04" + b"\xff\xfb" * 500,
            "application/octet-stream",
            "not raw pcm",
            id="mp3-as-bytes",
        ),
        pytest.param(
            b"OggS" + b"\x00" * 100, "application/octet-stream", "not raw pcm", id="ogg-as-bytes"
        ),
        pytest.param(b"", "application/octet-stream", "held no audio", id="empty"),
    ],
)
async def test_a_200_that_is_not_pcm_audio_is_the_upstreams_failure(
    body: bytes, content_type: str, failure: str
) -> None:
    """Read as pcm, an MP3 or a JSON error was loud noise, and an empty answer a silent
    clip, each billed as speech and counted a success by the circuit."""

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=content_type)

    async with relay_to(answer) as (relay, _asked):
        with pytest.raises(EngineUnavailable, match=failure):
            await relay.synthesize_async("Hello.", "alloy")
        assert failure in relay.breaker.last_error


async def test_pcm_under_any_of_its_media_types_is_taken() -> None:
    types = iter(["audio/pcm", "audio/L16", "application/octet-stream"])

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\x00\x01" * 100, content_type=next(types))

    async with relay_to(answer) as (relay, _asked):
        for _ in range(3):
            assert (await relay.synthesize_async("Hello.", "alloy")).size == 100


async def test_a_refusing_upstream_shows_in_the_circuits_last_error_without_opening_it() -> None:
    """A revoked key refuses every call; the backends listing said all was well."""

    async def refuse(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, text="bad key")

    async with relay_to(refuse, breaker_failures=2) as (relay, _asked):
        for _ in range(3):
            with pytest.raises(EngineError):
                await relay.synthesize_async("Hello.", "alloy")
        assert relay.breaker.last_error == "upstream answered 401"
        assert relay.breaker.state is CircuitState.closed


async def test_a_429_asking_for_a_long_pause_is_not_retried_and_holds_the_circuit_open() -> None:
    """Three calls went out within 0.1 s of a "Retry-After: 30"."""

    async def limited(request: web.Request) -> web.StreamResponse:
        return web.Response(status=429, headers={"Retry-After": "30"}, text="slow down")

    async with relay_to(limited, retries=2) as (relay, asked):
        with pytest.raises(EngineUnavailable) as refused:
            await relay.synthesize_async("Hello.", "alloy")
        assert 29 < (refused.value.retry_after_s or 0) <= 30
        assert asked == ["/v1/audio/speech"]
        assert relay.breaker.state is CircuitState.open
        with pytest.raises(EngineUnavailable, match="asked for a pause") as again:
            await relay.synthesize_async("Hello.", "alloy")
        assert 29 < (again.value.retry_after_s or 0) <= 30  # every caller is told, not one
        assert len(asked) == 1


def test_a_requested_pause_outlasts_other_outcomes_and_is_capped() -> None:
    """A call sent before the 429 that succeeded after it closed the circuit; a
    failure's cooldown shortened the pause; "Retry-After: 86400" held it for a day."""
    now = [0.0]
    breaker = CircuitBreaker(failures=1, cooldown_s=10, clock=lambda: now[0])
    early = breaker.allow()
    assert early is not None
    breaker.hold_off(60, "upstream answered 429")
    early.succeeded()
    assert breaker.state is CircuitState.open and breaker.held_for() == 60
    now[0] = 59
    assert breaker.allow() is None
    now[0] = 60
    trial = breaker.allow()  # the pause over: one trial, then the circuit closes
    assert trial is not None and breaker.allow() is None
    trial.succeeded()
    assert breaker.state is CircuitState.closed
    breaker.hold_off(86_400, "upstream answered 503")
    assert breaker.held_for() == breaker.longest_hold_s == 300


async def test_a_short_retry_after_is_waited_out_before_the_retry() -> None:
    arrivals: list[float] = []

    async def busy_once(request: web.Request) -> web.StreamResponse:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return web.Response(status=503, headers={"Retry-After": "1"}, text="busy")
        return web.Response(body=b"\x00\x01" * 10)

    async with relay_to(busy_once, retries=1, retry_base_ms=1) as (relay, _asked):
        assert (await relay.synthesize_async("Hello.", "alloy")).size == 10
    assert arrivals[1] - arrivals[0] >= 0.95


async def test_more_than_a_hundred_calls_reach_the_upstream_at_once() -> None:
    """aiohttp's default pool holds 100 connections and queued the 101st silently."""
    arrived, all_in, release = 0, asyncio.Event(), asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        arrived += 1
        if arrived == 110:
            all_in.set()
        await release.wait()
        return web.Response(body=b"\x00\x01")

    async with relay_to(held) as (relay, _asked):
        calls = [asyncio.create_task(relay.synthesize_async("Hi.", "alloy")) for _ in range(110)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_in.wait(), 10)
        reached = arrived
        release.set()
        await asyncio.gather(*calls)
    assert reached == 110


@pytest.mark.parametrize("body", [b"", b"\x00\x01\x02"], ids=["empty", "odd"])
async def test_a_pass_through_is_refused_before_it_begins_when_its_length_says_no_audio(
    body: bytes,
) -> None:
    """Found only at its end, a 200 had already been answered, then cut off."""

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="audio/pcm")

    async with relay_to(answer) as (relay, _asked):
        with pytest.raises(EngineUnavailable):
            await relay.open_body("Hello.", "alloy")
