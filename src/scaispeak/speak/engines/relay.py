"""The relay engine: speak through an upstream OpenAI-compatible ``/v1/audio/speech``.

It asks the upstream for 24 kHz s16le ``pcm`` so its output goes through the same
pipeline as our own engines (levelling, resampling, encoding, watermarking, unless
``upstream_watermarks`` says the upstream marked it already: ``marks_output``).
Retries happen only where a retry is safe: the request never reached the upstream
(connect errors) or the upstream said so (429/502/503/504). A circuit breaker stops
hammering an upstream that keeps failing.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import numpy as np

from scaispeak.settings import RelaySettings
from scaispeak.speak.engines.base import (
    EngineUnavailable,
    EngineVoice,
    Pcm,
    Priority,
    UpstreamFailed,
)
from scaispeak.speak.engines.circuit import CircuitBreaker

RELAY_SAMPLE_RATE = 24_000  # OpenAI's documented rate for response_format=pcm
_RETRYABLE_STATUS = {429, 502, 503, 504}


class RelayEngine:
    name = "relay"
    sample_rate = RELAY_SAMPLE_RATE

    def __init__(self, settings: RelaySettings, transport: httpx.AsyncBaseTransport | None = None):
        if not settings.base_url:
            raise ValueError("the relay needs SCAISPEAK_BACKENDS__RELAY__BASE_URL")
        self.settings = settings
        self.marks_output = settings.upstream_watermarks
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
        )

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
        self, text: str, voice: str, *, speed: float = 1.0, priority: Priority = Priority.NORMAL
    ) -> Pcm:
        """Speak through the upstream (``priority`` is ignored: it has no queue of ours)."""
        if not self.breaker.allow():
            raise EngineUnavailable(
                f"the relay's circuit is open after repeated failures ({self.breaker.last_error})"
            )
        try:
            body = await self._post_with_retries(text, voice, speed)
        except EngineUnavailable as exc:
            self.breaker.record_failure(str(exc))
            raise
        self.breaker.record_success()
        return (np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)

    async def _post_with_retries(self, text: str, voice: str, speed: float) -> bytes:
        payload = {
            "model": self.settings.model,
            "input": text,
            "voice": voice,
            "response_format": "pcm",
            "speed": speed,
        }
        attempt = 0
        while True:
            try:
                response = await self._client.post("/audio/speech", json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure: str = f"cannot connect to the upstream: {exc!r}"
            except httpx.TransportError as exc:
                # The request may have reached the upstream: not safe to repeat blindly.
                raise EngineUnavailable(f"the upstream connection failed: {exc!r}") from exc
            else:
                if response.status_code == 200:
                    return response.content
                failure = _describe(response)
                if response.status_code < 500 and response.status_code != 429:
                    raise UpstreamFailed(failure)  # our request's fault: not a health signal
                if response.status_code not in _RETRYABLE_STATUS:
                    raise EngineUnavailable(failure)
            if attempt >= self.settings.retries:
                raise EngineUnavailable(failure)
            await asyncio.sleep(self._backoff_s(attempt))
            attempt += 1

    def _backoff_s(self, attempt: int) -> float:
        # Full jitter: spreads retries of many callers instead of synchronising them.
        return random.uniform(0, self.settings.retry_base_ms * (2**attempt)) / 1000

    async def close(self) -> None:
        await self._client.aclose()


def _describe(response: httpx.Response) -> str:
    detail = response.text[:200]
    return f"upstream answered {response.status_code}: {detail}"
