"""The outbox's consumer: encodes frames as they leave, sends events in order, finishes.

Encoding happens here, at the last moment, so audio dropped by a cancel was never
encoded: the encoder's state always matches the bytes the client has, and a compressed
stream (Ogg Opus, MP3) stays one continuous stream across a barge-in.

Audio leaves at the pace it is heard, at most ``lead_s`` ahead of the listener's
playback: sent as fast as it was made, a long answer was on the client (and billed)
seconds before anyone heard it, and a barge-in then saved nothing.

The sender also says how long the transport has kept it waiting: a client that has
stopped reading blocks the send in progress for good, which is how the session tells
it from one that is merely quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from scaispeak.platform.errors import ServiceError
from scaispeak.speak.streaming import protocol
from scaispeak.speak.streaming.delivery import Delivery, StreamUsage
from scaispeak.speak.streaming.outbox import AudioFrame, Close, Event, Finish, Item, Outbox
from scaispeak.speak.streaming.sink import SinkClosed, StreamSink
from scaispeak.speak.synthesis.audio import AudioFormat, StreamEncoder

GONE = 1001
"""Close code recorded when the peer went away."""

_FFMPEG_FORMATS = (AudioFormat.opus, AudioFormat.mp3)
_log = logging.getLogger(__name__)


def _closed_already(_code: int) -> None:
    """What a released sender reports a close to: the session has closed already."""


def _heard_already(_latency: float) -> None:
    """What a released sender reports first audio to: nobody is listening."""


class Sender:
    def __init__(
        self,
        sink: StreamSink,
        outbox: Outbox,
        *,
        on_first_audio: Callable[[float], None],
        on_closed: Callable[[int], None],
        clock: Callable[[], float],
        lead_s: float,
    ) -> None:
        self._sink = sink
        self._lead_s = lead_s
        self._outbox = outbox
        self._on_first_audio = on_first_audio
        self._on_closed = on_closed
        self._clock = clock
        self._encoder: StreamEncoder | None = None
        self.delivery: Delivery | None = None
        self._sending_since: float | None = None
        self._fed_since_push = False
        """Audio went into the encoder since its held audio was last pushed out."""

    def release(self) -> None:
        """Forget the encoder and the session's callbacks once the session is closed."""
        self._encoder = None
        self._on_closed = _closed_already
        self._on_first_audio = _heard_already

    def begin(self, encoder: StreamEncoder, delivery: Delivery) -> None:
        """The stream started: from now on frames are encoded and counted."""
        self._encoder = encoder
        self.delivery = delivery

    @property
    def usage(self) -> StreamUsage:
        return self.delivery.usage if self.delivery else StreamUsage(0, 0.0, 0)

    @property
    def sending(self) -> bool:
        """An item is on its way to the transport."""
        return self._sending_since is not None

    def waited_on_sink(self) -> float:
        """Seconds the item on its way has waited for the transport (0 if none is)."""
        return 0.0 if self._sending_since is None else self._clock() - self._sending_since

    async def run(self) -> None:
        """Send until a finish or a close comes out of the outbox, or the peer is gone."""
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, AudioFrame) and not await self._in_time_for(item):
                    continue  # cancelled while it waited its turn
                self._sending_since = self._clock()
                try:
                    if not await self._send(item):
                        return
                finally:
                    self._sending_since = None
        except SinkClosed:
            self._on_closed(GONE)
        except Exception:  # an encoder failure, say: tell the client and close, not hang
            _log.exception("a stream's sender failed")
            await self._report(ServiceError("The stream failed on the server; start another."))

    async def _report(self, error: ServiceError) -> None:
        """The fatal ``error`` event the protocol promises (``internal_error``, closing
        with 4500), sent straight to the sink: the outbox's order died with the sender."""
        with contextlib.suppress(Exception):  # a sink that fails too: the close code stands
            await self._sink.send_event(protocol.error_event(error, fatal=True))
        self._on_closed(protocol.close_code(error))

    async def _in_time_for(self, frame: AudioFrame) -> bool:
        """Wait until ``frame`` would be no more than the lead ahead of playback;
        whether it still belongs to the utterance being spoken (a cancel meanwhile
        drops it). Not a wait on the transport: the client is not being slow."""
        if self.delivery is None:
            return True
        early = self.delivery.playback_left() - self._lead_s
        if early > 0:  # a cancel meanwhile ends the wait: its event must not wait too
            await self.delivery.wait_unless_interrupted(early)
        return frame.ticket.utterance == self.delivery.utterance

    async def _send(self, item: Item) -> bool:
        """Hand one item to the sink; False once the stream is over."""
        match item:
            case AudioFrame() as frame:
                await self._send_frame(frame)
            case Event(render=render, pushes_out_held_audio=push):
                if push:
                    await self._push_out_held_audio()
                await self._sink.send_event(render())
            case Finish():
                await self._finish()
                return False
            case Close(code=code):
                self._on_closed(code)
                return False
        return True

    async def _send_frame(self, frame: AudioFrame) -> None:
        assert self._encoder is not None and self.delivery is not None
        if self._encoder.format in _FFMPEG_FORMATS:
            data = await asyncio.to_thread(self._encoder.encode, frame.pcm)  # keeps the loop free
        else:
            data = self._encoder.encode(frame.pcm)
        self._fed_since_push = True
        if data:
            await self._sink.send_audio(data)
        latency = self.delivery.record(frame.ticket, len(frame.pcm), audible=bool(data))
        if latency is not None:
            self._on_first_audio(latency)

    async def _push_out_held_audio(self) -> None:
        """Send what the encoder holds of the audio fed so far, behind some silence (not
        billed: no segment's frame). Nothing when nothing was fed since the last push:
        a storm of cancels made 250 ms of mp3 or Opus silence each (1 MB for 500)."""
        if self._encoder is None or not self._fed_since_push:
            return
        self._fed_since_push = False
        data = await asyncio.to_thread(self._encoder.push_out_held_audio)
        if data:
            await self._sink.send_audio(data)

    async def _finish(self) -> None:
        tail = self._encoder.finish() if self._encoder else b""
        if tail:
            await self._sink.send_audio(tail)
        await self._sink.send_event(protocol.done_event(self.usage))
        self._on_closed(protocol.NORMAL_CLOSE)
