"""The outbox's consumer: encodes frames as they leave, sends events in order, finishes.

Encoding happens here, at the last moment, so audio dropped by a cancel was never
encoded: the encoder's state always matches the bytes the client has, and a compressed
stream (Ogg Opus, MP3) stays one continuous stream across a barge-in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.delivery import Delivery, StreamUsage
from scaispeak.speak.streaming.outbox import AudioFrame, Close, Event, Finish, Outbox
from scaispeak.speak.streaming.sink import SinkClosed, StreamSink
from scaispeak.speak.synthesis.audio import AudioFormat, StreamEncoder

GONE = 1001
"""Close code recorded when the peer went away."""
INTERNAL_ERROR = 1011

_FFMPEG_FORMATS = (AudioFormat.opus, AudioFormat.mp3)
_log = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        sink: StreamSink,
        outbox: Outbox,
        *,
        on_first_audio: Callable[[float], None],
        on_closed: Callable[[int], None],
    ) -> None:
        self._sink = sink
        self._outbox = outbox
        self._on_first_audio = on_first_audio
        self._on_closed = on_closed
        self._encoder: StreamEncoder | None = None
        self.delivery: Delivery | None = None

    def begin(self, encoder: StreamEncoder, delivery: Delivery) -> None:
        """The stream started: from now on frames are encoded and counted."""
        self._encoder = encoder
        self.delivery = delivery

    @property
    def usage(self) -> StreamUsage:
        return self.delivery.usage if self.delivery else StreamUsage(0, 0.0, 0)

    async def run(self) -> None:
        """Send until a finish or a close comes out of the outbox, or the peer is gone."""
        try:
            while True:
                match await self._outbox.get():
                    case AudioFrame() as frame:
                        await self._send_frame(frame)
                    case Event(render=render):
                        await self._sink.send_event(render())
                    case Finish():
                        await self._finish()
                        return
                    case Close(code=code):
                        self._on_closed(code)
                        return
        except SinkClosed:
            self._on_closed(GONE)
        except Exception:  # an encoder failure, say: close rather than hang
            _log.exception("a stream's sender failed")
            self._on_closed(INTERNAL_ERROR)

    async def _send_frame(self, frame: AudioFrame) -> None:
        assert self._encoder is not None and self.delivery is not None
        if self._encoder.format in _FFMPEG_FORMATS:
            data = await asyncio.to_thread(self._encoder.encode, frame.pcm)  # keeps the loop free
        else:
            data = self._encoder.encode(frame.pcm)
        if data:
            await self._sink.send_audio(data)
        latency = self.delivery.record(frame.ticket, len(frame.pcm), audible=bool(data))
        if latency is not None:
            self._on_first_audio(latency)

    async def _finish(self) -> None:
        tail = self._encoder.finish() if self._encoder else b""
        if tail:
            await self._sink.send_audio(tail)
        await self._sink.send_event(protocol.done_event(self.usage))
        self._on_closed(protocol.NORMAL_CLOSE)
