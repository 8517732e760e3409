"""The relay engine: speak through an upstream OpenAI-compatible ``/v1/audio/speech``.

It asks the upstream for 24 kHz s16le ``pcm`` so its output goes through the same
pipeline as our own engines (levelling, resampling, encoding, watermarking, unless
``upstream_watermarks`` says the upstream marked it already: ``marks_output``).
When the upstream levels and marks its audio as we would (another ScaiSpeak), a whole
text's body can also be handed over as it arrives (``open_body``), to be passed
through untouched (synthesis/passthrough.py).
Retries happen only where a retry is safe: the request never reached the upstream
(connect errors) or the upstream said so (429/502/503/504), and never sooner than its
``Retry-After``. A circuit breaker stops hammering an upstream that keeps failing, or
that asked for a pause longer than a retry would wait. A 200 is audio only when it says
it is raw PCM and holds some: "OpenAI-compatible" servers that ignore
``response_format=pcm`` send MP3 or WAV, which read as PCM is loud noise.

The HTTP client is aiohttp's: one round trip with a 177 KB clip takes 0.61–0.72 of
httpx's time on the 2-core benchmark machine (bench/relay_client.py), and this call is
on the relay's path to first audio.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import UTC, datetime

import aiohttp

from scaispeak.settings import RelaySettings
from scaispeak.speak.engines.base import (
    EngineBody,
    EngineUnavailable,
    EngineVoice,
    Pcm,
    Priority,
    UpstreamFailed,
)
from scaispeak.speak.engines.circuit import CircuitBreaker, Permit
from scaispeak.speak.synthesis.audio import from_int16_bytes

_log = logging.getLogger("scaispeak.relay")

RELAY_SAMPLE_RATE = 24_000  # OpenAI's documented rate for response_format=pcm
_RETRYABLE_STATUS = {429, 502, 503, 504}
# Media types of a raw PCM answer; aiohttp reports an answer without one as
# application/octet-stream. Anything else (JSON, HTML, audio/mpeg, audio/wav) is not pcm.
_PCM_TYPES = {"audio/pcm", "audio/l16", "audio/raw", "audio/x-raw", "application/octet-stream"}
_MAGIC_BYTES = 4  # how much of an answer _not_pcm reads
_RETRY_AFTER_WAIT_MAX_S = 2.0
"""Longest Retry-After a call waits out before retrying; a longer one opens the circuit
for as long as the upstream asked, and the caller is told when to come back."""
# Prose runs at about 0.07 s a character at speed 1, and text dense with numbers near
# 0.5 ("123,456,789"); an answer longer than any reading of its text is a broken
# upstream, and must not fill our memory (4096 characters: 196 MB at most).
_MOST_SECONDS_PER_CHAR = 1.0
_MOST_SECONDS_ANY_TEXT = 10.0


class RelayEngine:
    name = "relay"
    sample_rate = RELAY_SAMPLE_RATE

    def __init__(self, settings: RelaySettings):
        if not settings.base_url:
            raise ValueError("the relay needs SCAISPEAK_BACKENDS__RELAY__BASE_URL")
        self.settings = settings
        self.marks_output = settings.upstream_watermarks
        self.levels_output = settings.upstream_levels
        self.max_input_chars = settings.max_input_chars
        self.reads_written_text = True  # the upstream bills the characters it is sent
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)
        self._url = settings.base_url.rstrip("/") + "/audio/speech"
        self._client: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        if self._client is None:
            key = self.settings.api_key
            self._client = aiohttp.ClientSession(
                # aiohttp's default pool holds 100 connections and queues the rest without
                # a bound but the call's: our admission limits bound the calls instead.
                connector=aiohttp.TCPConnector(limit=self.settings.max_connections),
                headers={"Authorization": f"Bearer {key}"} if key else {},
                timeout=aiohttp.ClientTimeout(
                    total=self.settings.call_timeout_s,  # the whole call, its answer read
                    sock_connect=self.settings.connect_timeout_s,
                    sock_read=self.settings.read_timeout_s,
                ),
            )
        return self._client

    def voices(self) -> list[EngineVoice]:
        return []  # it speaks our voices under mapped names; it seeds none of its own

    def warm(self) -> None:
        return None

    def upstream_voice(self, voice_id: str, is_global: bool) -> str | None:
        """The upstream's name for one of our voices, or None if it cannot speak it."""
        mapped = self.settings.voice_map.get(voice_id)
        if mapped:
            return mapped
        if is_global and self.settings.relay_global_voices:
            return voice_id
        return None

    async def synthesize_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> Pcm:
        """Speak through the upstream (``priority`` and ``admitted`` are ignored: it has
        no queue of ours)."""
        response, permit = await self._open(text, voice, speed)
        # Closed at once if this read is cancelled, so the verdict and release come now.
        async with aclosing(self._chunks(response, permit, text, speed)) as chunks:
            body = b"".join([chunk async for chunk in chunks])
        return from_int16_bytes(body)

    async def open_body(self, text: str, voice: str, *, speed: float = 1.0) -> EngineBody:
        """Speak ``text`` through the upstream; returns once its answer has begun."""
        response, permit = await self._open(text, voice, speed)

        async def close() -> None:
            response.release()
            permit.abandoned()  # closed before the end: no verdict on the upstream

        chunks = self._chunks(response, permit, text, speed)
        return EngineBody(response.content_length, chunks, close)

    async def _chunks(
        self, response: aiohttp.ClientResponse, permit: Permit, text: str, speed: float
    ) -> AsyncGenerator[bytes, None]:
        size, most, head = 0, _most_bytes_for(text, speed), b""
        try:
            async for chunk in response.content.iter_any():
                size += len(chunk)
                head = head if len(head) >= _MAGIC_BYTES else (head + chunk)[:_MAGIC_BYTES]
                failure = _not_pcm(head) if len(head) == _MAGIC_BYTES else ""
                if size > most:
                    failure = "the upstream's audio is far longer than any reading of the text"
                if failure:
                    permit.failed(failure)
                    raise EngineUnavailable(failure)
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._broke_off(permit, exc) from exc
        else:
            failure = _broken_pcm(size)
            if failure:
                permit.failed(failure)
                raise EngineUnavailable(failure)
            permit.succeeded()
        finally:
            response.release()
            permit.abandoned()  # the reader stopped early: no verdict (no-op after one)

    def _broke_off(self, permit: Permit, exc: BaseException) -> EngineUnavailable:
        failure = _unsaid("the upstream's answer broke off", exc)
        permit.failed(failure)
        return EngineUnavailable(failure)

    async def _open(
        self, text: str, voice: str, speed: float
    ) -> tuple[aiohttp.ClientResponse, Permit]:
        """The upstream's 200 answer, its body not read yet (the caller releases it),
        and the breaker's permit, on which the caller reports how the body ended."""
        permit = self.breaker.allow()
        if permit is None:
            held = self.breaker.held_for()
            if held > 0:  # every caller meanwhile is told when to come back, not the first
                raise EngineUnavailable(
                    f"the upstream asked for a pause ({self.breaker.last_error})",
                    retry_after_s=held,
                )
            raise EngineUnavailable(
                f"the relay's circuit is open after repeated failures ({self.breaker.last_error})"
            )
        try:
            response = await self._post_with_retries(text, voice, speed)
        except UpstreamFailed as exc:
            # A 4xx (not 429) refuses our request, not an outage: the upstream answered,
            # so for the circuit it is up (docs/backends.md); the backends listing still
            # shows it, since a wrong or revoked key refuses every call.
            self.breaker.refused(str(exc))
            permit.succeeded()
            raise
        except EngineUnavailable as exc:
            if exc.retry_after_s is not None:
                self.breaker.hold_off(exc.retry_after_s, str(exc))
                exc.retry_after_s = self.breaker.held_for()  # the pause as held (capped)
                permit.abandoned()
            else:
                permit.failed(str(exc))
            raise
        except BaseException:
            permit.abandoned()  # cancelled (or a bug): says nothing about the upstream
            raise
        return response, permit

    async def _post_with_retries(
        self, text: str, voice: str, speed: float
    ) -> aiohttp.ClientResponse:
        payload = {
            "model": self.settings.model,
            "input": text,
            "voice": voice,
            "response_format": "pcm",
            "speed": speed,
        }
        attempt = 0
        while True:
            asked: float | None = None
            try:
                # No redirects: a redirected POST would carry our key to wherever it points.
                response = await self._session().post(
                    self._url, json=payload, allow_redirects=False
                )
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                failure: str = _unsaid("cannot connect to the upstream", exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The request may have reached the upstream: not safe to repeat blindly.
                raise EngineUnavailable(_unsaid("the upstream connection failed", exc)) from exc
            else:
                if response.status == 200:
                    return _pcm_answer(response)
                failure = await _describe(response, self.settings.api_key or "")
                if response.status < 400:  # a redirect: the base URL is misconfigured
                    raise EngineUnavailable(failure)
                if response.status < 500 and response.status != 429:
                    raise UpstreamFailed(failure)  # our request's fault: not a health signal
                if response.status not in _RETRYABLE_STATUS:
                    raise EngineUnavailable(failure)
                asked = _retry_after_s(response)
                if asked is not None and asked > _RETRY_AFTER_WAIT_MAX_S:
                    raise EngineUnavailable(failure, retry_after_s=asked)
            if attempt >= self.settings.retries:
                raise EngineUnavailable(failure)
            await asyncio.sleep(max(self._backoff_s(attempt), asked or 0.0))
            attempt += 1

    def _backoff_s(self, attempt: int) -> float:
        # Full jitter: spreads retries of many callers instead of synchronising them.
        return random.uniform(0, self.settings.retry_base_ms * (2**attempt)) / 1000

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def _most_bytes_for(text: str, speed: float) -> int:
    """The most 16-bit pcm bytes a reading of ``text`` at ``speed`` can take. A speed
    above 1 does not shorten it: some upstreams ignore ``speed``."""
    slowest = max(min(speed, 1.0), 0.1)
    seconds = _MOST_SECONDS_ANY_TEXT + _MOST_SECONDS_PER_CHAR * len(text) / slowest
    return int(seconds * RELAY_SAMPLE_RATE) * 2


def _pcm_answer(response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
    """``response`` where its 200 says it is raw PCM, and its length (when it gives one)
    may be some; otherwise the upstream's failure, found before any of it is passed on
    (a pass-through would have answered 200 already, then been cut off)."""
    failure = ""
    if response.content_type not in _PCM_TYPES:
        failure = f"the upstream answered {response.content_type}, not pcm audio"
    elif response.content_length is not None:
        failure = _broken_pcm(response.content_length)
    if not failure:
        return response
    response.release()
    raise EngineUnavailable(failure)


def _not_pcm(head: bytes) -> str:
    """Why an answer starting with ``head`` is a container, not raw PCM, or "" if it may
    be PCM: an upstream that ignores ``response_format=pcm`` and labels its wav, mp3,
    Ogg or FLAC ``application/octet-stream`` (or nothing) would otherwise be played as
    loud noise. Only unambiguous marks: each is a first sample far louder than speech
    starts (RIFF is 18770), where a bare mp3 frame's sync could be a quiet one."""
    if head.startswith((b"RIFF", b"ID3", b"OggS", b"fLaC", b"{")):
        return "the upstream answered an audio container or JSON, not raw pcm"
    return ""


def _broken_pcm(size: int) -> str:
    """Why a whole answer of ``size`` bytes is not audio of a text, or "" if it may be."""
    if size == 0:  # our texts always have something to say: an empty 200 is broken
        return "the upstream's answer held no audio"
    if size % 2:
        return "the upstream's audio ended inside a 16-bit sample"
    return ""


def _retry_after_s(response: aiohttp.ClientResponse) -> float | None:
    """The answer's ``Retry-After`` in seconds (delta or HTTP date), None if absent."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _unsaid(failure: str, exc: BaseException) -> str:
    """``failure`` with the exception's kind, for callers and the backends listing; its
    text goes to the log only, as ``str``: aiohttp's ``repr`` of a response error holds
    the request's headers, our key among them (the log's redaction is a second guard)."""
    _log.warning("relay: %s: %s: %s", failure, type(exc).__name__, exc)
    return f"{failure} ({type(exc).__name__})"


async def _describe(response: aiohttp.ClientResponse, key: str) -> str:
    """A refusing upstream's status, for callers; the start of its body for the log (it
    can name the upstream's internals), our ``key`` masked where it echoes it (an
    "incorrect API key" answer often does), its connection released."""
    try:
        # Past the 200 characters logged by the key's length: masked before it is cut,
        # a key echoed across the cut leaves no prefix of itself in the log. Read until
        # that much or the end: one read returns what has arrived, and a key split
        # across two writes was cut in half before its mask could match it.
        body = await _read_up_to(response, 200 + len(key.encode()))
        detail = body.decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        detail = f"(its body could not be read: {type(exc).__name__}: {exc})"
    finally:
        response.release()
    if key:
        detail = detail.replace(key, "[redacted]")
    detail = detail[:200]
    _log.warning("relay: upstream answered %d: %s", response.status, detail)
    return f"upstream answered {response.status}"


async def _read_up_to(response: aiohttp.ClientResponse, size: int) -> bytes:
    body = b""
    while len(body) < size:
        chunk = await response.content.read(size - len(body))
        if not chunk:
            break
        body += chunk
    return body
