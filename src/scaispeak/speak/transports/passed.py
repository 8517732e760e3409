"""Audio sent on as it arrives: a relayed clip passed through, or speech sent segment
by segment as it is made (``PassingResult.deliver``), with what the response says of
it; a caller who hangs up is noticed (uvicorn drops sends to a closed connection
silently, so the response watches ``receive`` for ``http.disconnect``)."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import ServiceError
from scaispeak.speak.synthesis.batch import PassingResult


def usage_of(voice_id: str, backend: str, cost_micros: int, characters: int) -> dict[str, str]:
    return {
        "X-ScaiSpeak-Voice": voice_id,
        "X-ScaiSpeak-Backend": backend,
        "X-ScaiSpeak-Cost-Micros": str(cost_micros),
        "X-ScaiSpeak-Characters": str(characters),
    }


AS_IT_COMES = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""For a body sent as it is made: a proxy that buffers responses (nginx does, unless
told by ``X-Accel-Buffering``) would hold the first audio back until the end."""


class ResponseCutOff(Exception):
    """A response that had begun could not be finished (its engine failed part-way)."""


class PassedAudio(Response):
    """Audio sent on as it arrives (``PassingResult.deliver``): a relayed clip, whose
    length is known before it arrives, with the same usage headers as a whole clip;
    or speech sent as it is made, chunked, without its length and duration (and, if
    the caller hangs up, charged for what was made: the cost header is the quote)."""

    framing: str | None = None
    """The body's media type where the audio is framed in it (framed); None: bare."""

    def __init__(self, result: PassingResult, caller: Principal) -> None:
        self.result = result
        self.status_code = 200
        self.media_type = self.framing or result.speech.content_type
        self.background = BackgroundTask(result.record_delivery, caller)
        speech = result.speech
        headers = usage_of(
            result.voice.id, result.backend, result.cost_micros, len(speech.spec.text)
        )
        headers |= {
            "X-ScaiSpeak-Sample-Rate": str(speech.spec.sample_rate),
            "X-ScaiSpeak-Segments": str(speech.segment_count),
        } | AS_IT_COMES
        if speech.content_length is not None and self.framing is None:
            headers["Content-Length"] = str(speech.content_length)
            headers["X-ScaiSpeak-Audio-Seconds"] = f"{speech.duration_s:.3f}"
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        except BaseException:  # the caller is gone before the first byte: nothing is owed
            await self.result.abandon()
            raise

        async def send_body(chunk: bytes) -> None:
            framed = self.framed(chunk)
            await send({"type": "http.response.body", "body": framed, "more_body": True})

        gone = asyncio.Event()
        watcher = asyncio.create_task(until_disconnected(receive, gone))
        try:
            await self.result.deliver(send_body, gone.is_set)
            last = self.ending()
        except ServiceError as exc:
            last = await self._failed(exc)
        finally:
            watcher.cancel()
        with suppress(OSError):  # the caller hung up; what was made is paid and recorded
            await send({"type": "http.response.body", "body": last, "more_body": False})
        if self.background is not None:
            await self.background()

    async def _failed(self, exc: ServiceError) -> bytes:
        """``failing``'s last piece; where it cuts the response off instead, the audio
        already delivered is still recorded (unbilled, but out there to be traced)."""
        try:
            return self.failing(exc)
        except ResponseCutOff:
            if self.background is not None:
                await self.background()
            raise

    def framed(self, chunk: bytes) -> bytes:
        """How a piece of audio goes on the wire: as it is."""
        return chunk

    def ending(self) -> bytes:
        """What follows the last piece: nothing."""
        return b""

    def failing(self, exc: ServiceError) -> bytes:
        """The engine failed part-way (unbilled). A begun response cannot turn into a
        problem document; the server drops the connection, so the caller sees a body
        short of its Content-Length (or a chunked one without its last chunk)."""
        raise ResponseCutOff(exc.detail) from exc


async def until_disconnected(receive: Receive, gone: asyncio.Event) -> None:
    """Set ``gone`` once the caller disconnects (the body was read before the answer)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()
