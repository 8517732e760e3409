"""Speaking one stream's segments: each becomes a ``segment`` event and its frames.

A segment is spoken whole, or, while the listener hears silence and the engine can,
*opened*: its first fraction of a second is announced and sent before the rest is made
(synthesis/openings.py, docs/streaming.md). Either way its ``segment`` event comes
just before its audio, says exactly how long that audio is, and carries its words'
times on the utterance's clock, which a cancel restarts (``new_utterance``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

from scaispeak.settings import StreamingSettings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.streaming import protocol as p
from scaispeak.speak.streaming.delivery import Delivery
from scaispeak.speak.streaming.framing import PieceShaper, frames
from scaispeak.speak.streaming.outbox import Event, Outbox, SegmentTicket
from scaispeak.speak.synthesis.audio import shape_segment
from scaispeak.speak.synthesis.inference import Priority
from scaispeak.speak.synthesis.openings import OpenedSegment
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec
from scaispeak.speak.synthesis.speech import SegmentAudio
from scaispeak.speak.synthesis.text import Segment
from scaispeak.speak.synthesis.timestamps import (
    WordTiming,
    opened_segment_words,
    segment_words,
)


class SegmentSpeaker:
    """Speaks a started stream's segments, one at a time, into its outbox."""

    def __init__(
        self,
        pipeline: SynthesisPipeline,
        settings: StreamingSettings,
        spec: StreamSpec,
        delivery: Delivery,
        outbox: Outbox,
        produced: StreamCapture,
        *,
        lane: Hashable,
        lead_in_s: float = 0.0,
    ) -> None:
        self._pipeline = pipeline
        self._settings = settings
        self._spec = spec
        self._delivery = delivery
        self._outbox = outbox
        self._produced = produced
        self._lane = lane
        self._engine_rate = pipeline.engines.get(spec.engine).sample_rate
        self._embed = pipeline.must_embed(spec.engine, spec.watermark)
        """Whether this stream embeds the mark (not when its engine's audio comes marked)."""
        self._sequence = 0
        self._utterance_s = 0.0
        """Audio announced since the stream began or the last cancel: word times count from it."""
        self._lead_in_s = lead_in_s
        """Silence the format's decoder plays before our first sample (MP3's encoder
        delay): every time we announce is that much later in what the client hears."""

    def new_utterance(self) -> None:
        """After a cancel: word times count from zero again."""
        self._utterance_s = 0.0

    async def speak(self, segment: Segment) -> None:
        spec, delivery = self._spec, self._delivery
        # Urgent while the listener hears silence: the first clause, or after a barge-in.
        if delivery.listener_waiting():
            head_s = self._settings.first_audio_head_ms / 1000
            opened = None
            if head_s > 0:
                opened = await self._pipeline.open_segment(
                    segment,
                    spec.engine,
                    spec.engine_voice,
                    spec.speed,
                    head_seconds=head_s,
                    lane=self._lane,
                    watermark=self._embed,
                    admitted=self._sequence > 0,
                )
            if opened is not None:
                await self._speak_opened(opened)
                return
        await self._speak_whole(segment, urgent=delivery.listener_waiting())

    async def _speak_whole(self, segment: Segment, *, urgent: bool) -> None:
        spec = self._spec
        audio = await self._pipeline.speak_segment(
            self._sequence,
            segment,
            spec.engine,
            spec.engine_voice,
            spec.speed,
            priority=Priority.FIRST_AUDIO if urgent else Priority.NORMAL,
            lane=self._lane,
            watermark=self._embed,
            admitted=self._sequence > 0,  # a stream that has spoken is not cut off by load
        )
        # A stream has no "last segment" until it ends, so every segment gets its pause.
        pause_ms = audio.pause_ms or float(self._pipeline.settings.sentence_pause_ms)
        pcm, words, estimated = await asyncio.to_thread(
            _shaped_and_timed, audio, pause_ms, self._engine_rate, spec.sample_rate
        )
        ticket = self._announce(segment.text, len(pcm), words, estimated)
        await self._send(pcm, ticket)

    async def _speak_opened(self, opened: OpenedSegment) -> None:
        """Announce the segment and send its head, then make and send the rest."""
        spec = self._spec
        pause_ms = opened.pause_ms or float(self._pipeline.settings.sentence_pause_ms)
        shaper = PieceShaper(opened.samples, pause_ms, self._engine_rate, spec.sample_rate)
        # The head is a fraction of a second: shaping it here (well under a millisecond)
        # is quicker than a hop to a thread and back.
        head = shaper.head(opened.head)
        words, estimated = opened_segment_words(opened.text, opened.word_spans, opened.speech_s)
        ticket = self._announce(opened.text, shaper.samples_out, words, estimated)
        await self._send(head, ticket)
        rest = await self._pipeline.finish_segment(opened, lane=self._lane)
        await self._send(await asyncio.to_thread(shaper.rest, rest), ticket)

    def _announce(
        self, text: str, samples: int, words: list[WordTiming], estimated: bool
    ) -> SegmentTicket:
        """Queue the segment event for ``samples`` of audio at the output rate; the
        ticket its frames carry."""
        spec, delivery = self._spec, self._delivery
        ticket = SegmentTicket(self._sequence, len(text), samples, delivery.utterance)
        self._sequence += 1
        start_s = self._utterance_s + self._lead_in_s
        self._utterance_s += samples / spec.sample_rate
        timing = p.SegmentTiming(start_s, [w.shifted(start_s) for w in words], estimated)
        event = p.segment_event(ticket.sequence, text, samples / spec.sample_rate, timing)
        self._outbox.put(Event.fixed(event, utterance=True))
        return ticket

    async def _send(self, pcm: Pcm, ticket: SegmentTicket) -> None:
        self._produced.add(pcm)
        for frame in frames(pcm, ticket, self._spec.sample_rate, self._settings.frame_ms):
            await self._outbox.put_frame(frame)


def _shaped_and_timed(
    audio: SegmentAudio, pause_ms: float, from_rate: int, to_rate: int
) -> tuple[Pcm, list[WordTiming], bool]:
    """A whole segment as sent, and its words' times: one trip to a thread for both."""
    pcm = shape_segment(audio.pcm, pause_ms, from_rate, to_rate)
    words, estimated = segment_words(audio.text, audio.pcm, from_rate, audio.word_spans)
    return pcm, words, estimated
