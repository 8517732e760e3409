"""One real-time stream: text in, piece by piece; audio frames and events out.

A :class:`StreamSession` knows no transport: the transport hands it each client
message (``receive``) and implements :class:`StreamSink`. Three activities run:

* message handling feeds the :class:`IncrementalSegmenter` and queues segments; it
  never waits for synthesis, so a ``cancel`` takes effect at once;
* the synthesizer task pays for each segment, then has the :class:`SegmentSpeaker`
  (speaker.py) speak it: through the pipeline (the inference pool, with this stream as
  its lane), shaped to the output rate, its frames queued in the bounded outbox;
* the sender task (``sender.Sender``) encodes each frame as it leaves and hands it,
  and the events between frames, to the sink in order.

Cancelling (``cancel``, a disconnect, a fatal error) cancels the synthesizer task: a
queued pool call is withdrawn, a running one's result is dropped, and the outbox
forgets the utterance, so no frame of it follows the ``cancelled`` event.

A client that stops reading cannot make the session hold its output without end:
audio waits for room, and once :data:`MAX_QUEUED_EVENTS` events wait too, or the
transport has taken nothing for ``idle_timeout_seconds``, the stream ends at once
with ``slow_consumer`` (its sender may be stuck for good, so nothing waits for it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from types import TracebackType

from scaispeak.platform.errors import ServiceError
from scaispeak.settings import StreamingSettings
from scaispeak.speak.errors import SynthesisFailed
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.streaming import protocol as p
from scaispeak.speak.streaming.delivery import Delivery, StreamUsage
from scaispeak.speak.streaming.outbox import Close, Event, Finish, Outbox
from scaispeak.speak.streaming.ports import Coverage, Opener, Permit
from scaispeak.speak.streaming.sender import GONE, Sender
from scaispeak.speak.streaming.sink import StreamSink
from scaispeak.speak.streaming.speaker import SegmentSpeaker
from scaispeak.speak.streaming.text_intake import TextIntake
from scaispeak.speak.synthesis.audio import StreamEncoder
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec
from scaispeak.speak.synthesis.text import IncrementalSegmenter, Segment

MAX_QUEUED_EVENTS = 1_000
"""Events (errors, ``cancelled``...) that may wait for a client that does not read them;
one more ends the stream with ``slow_consumer``. Each such event answers a message of
the client's own, so only one that sends far faster than it reads comes near it."""
_END = None  # in the pending queue: everything before it is said, then finish
_MESSAGE_RECHECK_S = 0.005  # how soon words that waited are looked at again mid-message
_log = logging.getLogger(__name__)


class StreamSession:
    """One stream. ``async with`` it, hand it every client message with :meth:`receive`,
    and close the transport once :meth:`wait_closed` returns its close code."""

    def __init__(
        self,
        sink: StreamSink,
        pipeline: SynthesisPipeline,
        settings: StreamingSettings,
        open_stream: Opener,
        *,
        stream_id: str,
        transport: str,
        coverage: Coverage | None = None,
        permit: Permit | None = None,
        clock: Callable[[], float] = time.monotonic,
        lane: Hashable | None = None,
    ) -> None:
        self.stream_id = stream_id
        self._lane = stream_id if lane is None else lane  # its turns in the inference pool
        self._coverage = coverage
        self._permit = permit
        self.close_code = p.NORMAL_CLOSE
        self._pipeline = pipeline
        self._settings = settings
        self._open_stream = open_stream
        self._clock = clock
        segmenter = IncrementalSegmenter(
            max_chars=pipeline.settings.max_clause_chars,
            min_chars=settings.min_segment_chars,
            max_wait_chars=settings.max_wait_chars,
        )
        self._text = TextIntake(segmenter, settings.max_text_chars)
        buffered_frames = settings.max_buffered_audio_seconds * 1000 / settings.frame_ms
        self._outbox = Outbox(math.ceil(buffered_frames), MAX_QUEUED_EVENTS)
        first_audio = pipeline.metrics.time_to_first_audio.labels(transport)
        self._sender = Sender(
            sink,
            self._outbox,
            on_first_audio=first_audio.observe,
            on_closed=self._mark_closed,
            clock=clock,
            lead_s=settings.send_ahead_seconds,
        )
        self._pending: deque[Segment | None] = deque()
        self._pending_ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._spec: StreamSpec | None = None
        self._delivery: Delivery | None = None
        self._speaker: SegmentSpeaker | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.produced: StreamCapture | None = None
        """The start of the audio made, for the provenance record (setup.py)."""
        self._ending = False
        self._failed = False
        self._synthesizing = False

    async def __aenter__(self) -> StreamSession:
        self._spawn("send", self._sender.run())
        self._arm_idle_timer()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def usage(self) -> StreamUsage:
        """Delivered so far; final once the session is closed (see delivery.py)."""
        return self._sender.usage

    @property
    def buffered_frames(self) -> int:
        """Frames made but not sent yet: bounded, so a slow reader pauses synthesis."""
        return self._outbox.frames

    @property
    def closed(self) -> bool:
        """The stream is over: :meth:`wait_closed` returns at once."""
        return self._closed.is_set()

    async def wait_closed(self) -> int:
        """Wait until the stream is over (``done`` sent, a fatal error, the peer gone)."""
        await self._closed.wait()
        return self.close_code

    async def receive(self, raw: str | bytes) -> None:
        """Handle one client message; mistakes become ``error`` events, never exceptions."""
        async with self._lock:  # one message at a time, in arrival order
            if self._closed.is_set() or self._failed:
                return
            self._arm_idle_timer()
            try:
                await self._handle(p.parse_message(raw))
            except ServiceError as exc:
                self._outbox.put(Event.fixed(p.error_event(exc, fatal=False)))
            except Exception:  # e.g. the database failing during start: log it, close
                _log.exception("stream %s: handling a message failed", self.stream_id)
                self._fail(ServiceError("Unexpected error."))
            self._drop_client_if_not_reading()

    async def aclose(self) -> None:
        """Stop everything (a disconnect is a cancel): no task or pool work outlives this."""
        for timer in self._timers.values():
            timer.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._mark_closed(GONE)
        # A cancelled task's traceback and the sender's callbacks kept this session (and
        # an Opus or MP3 encoder's FFmpeg threads) alive until a rare full collection.
        self._tasks.clear()
        self._sender.release()

    async def _handle(self, message: p.ClientMessage) -> None:
        match message:
            case p.StartMessage():
                await self._start(message)
            case p.EndMessage():
                self._end()
            case _ if self._spec is None:
                raise p.NotStarted("Send a start message first.")
            case p.CancelMessage():
                await self._cancel()
            case _ if self._ending:
                raise p.StreamEnding("The stream is ending; only cancel is accepted now.")
            case p.TextMessage(text=text):
                await self._add_text(text)
            case p.FlushMessage():
                self._stop_wait_timer()
                self._queue(self._text.flush())

    async def _start(self, message: p.StartMessage) -> None:
        if self._ending:
            raise p.StreamEnding("The stream has ended.")
        if self._spec is not None:
            raise p.AlreadyStarted("This stream has started already.")
        spec = await self._open_stream(message)
        self._spec = spec
        self._delivery = Delivery(spec.sample_rate, self._clock)
        encoder = StreamEncoder(spec.format, spec.sample_rate)
        self._sender.begin(encoder, self._delivery)
        self.produced = StreamCapture(
            spec.sample_rate, self._pipeline.fingerprint_seconds, watermarked=spec.watermark
        )
        self._speaker = SegmentSpeaker(
            self._pipeline,
            self._settings,
            spec,
            self._delivery,
            self._outbox,
            self.produced,
            lane=self._lane,
            lead_in_s=encoder.delay_seconds,
        )
        self._outbox.put(Event.fixed(p.started_event(self.stream_id, spec)))
        self._spawn("synthesize", self._synthesize_loop())

    def _end(self) -> None:
        if self._ending:
            return
        self._ending = True
        self._stop_wait_timer()
        if self._spec is None:
            self._outbox.put(Finish())
            return
        self._queue(self._text.flush())
        self._queue_end()

    async def _add_text(self, text: str) -> None:
        segments = await self._text.feed(text)
        if segments:
            self._stop_wait_timer()  # what is left starts its wait now
        self._queue(segments)
        if "wait" not in self._timers and self._text.buffered:
            self._wait_for_text(self._settings.max_wait_ms / 1000)

    def _wait_for_text(self, seconds: float) -> None:
        self._timers["wait"] = asyncio.get_running_loop().call_later(seconds, self._on_waited)

    def _queue(self, segments: list[Segment]) -> None:
        if segments:
            assert self._delivery is not None
            self._delivery.segment_queued()
            self._pending.extend(segments)
            self._pending_ready.set()

    def _queue_end(self) -> None:
        self._pending.append(_END)
        self._pending_ready.set()

    async def _cancel(self) -> None:
        """Barge-in: stop speaking at once and forget the utterance; the stream stays open."""
        delivery = self._delivery
        assert delivery is not None
        await self._stop_synthesizer()
        self._stop_wait_timer()
        self._text.cancel()
        self._pending.clear()
        self._outbox.drop_utterance()
        delivery.interrupt()
        assert self._speaker is not None
        self._speaker.new_utterance()

        def cancelled() -> dict[str, object]:
            delivery.cut()  # at send time: the frame in flight counts, nothing after it
            return p.cancelled_event(delivery.usage)

        self._outbox.put(Event(cancelled, pushes_out_held_audio=True))
        if self._ending:
            self._queue_end()
        self._spawn("synthesize", self._synthesize_loop())

    async def _stop_synthesizer(self) -> None:
        task = self._tasks.pop("synthesize", None)
        if task is not None:
            task.cancel()  # withdraws its queued pool call; a running one is dropped
            await asyncio.gather(task, return_exceptions=True)
        self._synthesizing = False

    async def _synthesize_loop(self) -> None:
        while (segment := await self._next_segment()) is not _END:
            self._synthesizing = True
            try:
                await self._speak(segment)
            except ServiceError as exc:
                self._fail(exc)
                return
            except Exception:  # a bug must end the stream loudly, not hang it
                _log.exception("stream %s: synthesis failed", self.stream_id)
                self._fail(SynthesisFailed("Synthesis failed unexpectedly."))
                return
            finally:
                self._synthesizing = False
        self._outbox.put(Finish())

    async def _next_segment(self) -> Segment | None:
        while not self._pending:
            self._pending_ready.clear()
            await self._pending_ready.wait()
        return self._pending.popleft()

    async def _speak(self, segment: Segment) -> None:
        assert self._speaker is not None
        if self._permit is not None:
            await self._permit.check()  # a revoked voice or key ends the stream here
        if self._coverage is not None:
            assert self._delivery is not None
            await self._coverage.cover(self._delivery.to_cover(len(segment.text)))  # first
        await self._speaker.speak(segment)

    def _fail(self, exc: ServiceError) -> None:
        """A fatal error: drop what is unsaid, report it, close."""
        if self._failed or self._closed.is_set():
            return
        self._failed = True
        synthesizer = self._tasks.get("synthesize")
        if synthesizer is not None and synthesizer is not asyncio.current_task():
            synthesizer.cancel()
        self._pending.clear()
        self._outbox.drop_all()
        self._outbox.put(Event.fixed(p.error_event(exc, fatal=True)))
        self._outbox.put(Close(p.close_code(exc)))

    def _drop_client_if_not_reading(self) -> bool:
        """End the stream if the client has stopped reading; True if it was ended."""
        limit = self._settings.idle_timeout_seconds
        if self._outbox.overflowing:
            why = f"More than {MAX_QUEUED_EVENTS} events are waiting to be read."
        elif self._sender.waited_on_sink() >= limit:
            why = f"Nothing sent to this client was read for {limit:g} s."
        else:
            return False
        error = p.SlowConsumer(why)
        self._fail(error)
        # The sender may never be free to send the error and the close, so close now.
        self._mark_closed(p.close_code(error))
        return True

    def _mark_closed(self, code: int) -> None:
        if not self._closed.is_set():
            self.close_code = code
            self._closed.set()

    def _spawn(self, role: str, work: Awaitable[None]) -> None:
        self._tasks[role] = asyncio.ensure_future(work)
        self._tasks[role].set_name(f"{self.stream_id}-{role}")

    def _arm_idle_timer(self, delay: float | None = None) -> None:
        if "idle" in self._timers:
            self._timers["idle"].cancel()
        delay = self._settings.idle_timeout_seconds if delay is None else delay
        self._timers["idle"] = asyncio.get_running_loop().call_later(delay, self._on_idle)

    def _on_idle(self) -> None:
        """No message for ``idle_timeout_seconds``: fine while the client is being spoken
        to, not when nothing is left to say or nothing reaches it."""
        if self._drop_client_if_not_reading():
            return
        limit = self._settings.idle_timeout_seconds
        if self._sender.sending:  # look again when this send has waited the limit
            self._arm_idle_timer(limit - self._sender.waited_on_sink())
        elif self._pending or self._synthesizing or len(self._outbox):
            self._arm_idle_timer()  # still speaking: silence from the client is fine
        elif self._delivery is not None and not self._delivery.listener_waiting():
            # Still being heard: the listener's silence counts from the end of it.
            self._arm_idle_timer(self._delivery.playback_left() + limit)
        else:
            error = p.IdleTimeout(f"No message for {limit:g} s and nothing left to say.")
            self._fail(error)
            # A client that takes nothing may never be sent the error and the close: one
            # more idle limit of that, and the stream closes without them.
            loop = asyncio.get_running_loop()
            self._timers["idle"] = loop.call_later(limit, self._mark_closed, p.close_code(error))

    def _on_waited(self) -> None:
        """Words waited ``max_wait_ms``: spoken now only if the listener is about to run
        out of audio. A cut while earlier audio plays gains nothing and can change what
        is said ("the 2024 | Q3", a link's URL): then more text is waited for instead."""
        del self._timers["wait"]
        if self._lock.locked():
            # A message is being handled (a long text is judged in turns, text_intake.py):
            # its segments come before the words that waited, so release those after.
            return self._wait_for_text(_MESSAGE_RECHECK_S)
        wait_s = self._settings.max_wait_ms / 1000
        heard_for = self._delivery.playback_left() if self._delivery else 0.0
        if heard_for > wait_s:
            return self._wait_for_text(heard_for - wait_s)
        first_wait = not self._text.waited
        self._queue(self._text.release_words())
        if first_wait and wait_s and self._text.buffered:  # once more, then goes (segment.py)
            self._wait_for_text(wait_s)

    def _stop_wait_timer(self) -> None:
        if "wait" in self._timers:
            self._timers.pop("wait").cancel()
