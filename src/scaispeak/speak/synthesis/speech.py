"""What the synthesis pipeline takes and gives: the spec of a clip, its spoken
segments, the made speech that is charged for, and the finished clip."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from scaispeak.speak.engines.base import Pcm, WordSpans
from scaispeak.speak.provenance import fingerprint
from scaispeak.speak.synthesis.audio import AudioFormat, joined_length
from scaispeak.speak.synthesis.timestamps import WordTiming


@dataclass(frozen=True)
class SpeechSpec:
    """What to say, in which voice, and in what audio shape."""

    text: str
    engine: str
    engine_voice: str
    format: AudioFormat
    sample_rate: int
    speed: float = 1.0
    watermark: bool = False
    """Embed the provenance watermark (provenance.service decides)."""
    timestamps: bool = False
    """Work out word timestamps (synthesis.timestamps) for the clip."""
    lane: Hashable | None = None
    """Whose turn its engine calls take in the inference pool (an ``inference.Lane``)."""


@dataclass(frozen=True)
class SegmentAudio:
    """One spoken, levelled segment at the engine's rate, before resampling and encoding."""

    index: int
    text: str
    pcm: Pcm
    pause_ms: float
    engine_seconds: float
    word_spans: WordSpans | None = None
    """Where each spoken word is, from an engine that knows (engines.base.TimedEngine)."""


@dataclass(frozen=True)
class MadeSpeech:
    """A clip's segments, made: what is charged for. Joining, resampling and encoding
    are left to :meth:`SynthesisPipeline.assemble`.

    An async engine's segments (a relay's) come as the engine gave them
    (``levelled=False``) and are levelled, and marked if ``embed``, in the thread that
    joins them: one thread hop for the clip instead of two more per segment. Levelling
    and marking keep a segment's length, so the clip's duration is known here already.
    """

    spec: SpeechSpec
    rate: int
    segments: tuple[SegmentAudio, ...]
    levelled: bool = True
    embed: bool = False

    @property
    def duration_s(self) -> float:
        """The joined clip's duration at the engine's rate: the delivered clip's to within
        a sample (resampling rounds its length)."""
        parts = [(seg.pcm.size, seg.pause_ms) for seg in self.segments]
        return joined_length(parts, self.rate) / self.rate


@dataclass(frozen=True)
class SpokenClip:
    data: bytes
    content_type: str
    sample_rate: int
    duration_s: float
    characters: int
    segments: int
    engine_seconds: float
    watermarked: bool = False
    fingerprinted: Pcm = field(default_factory=lambda: np.zeros(0, np.float32))
    """The delivered audio's first ``fingerprint_seconds`` at ``sample_rate``, before
    encoding: its provenance fingerprint is computed from this after the response
    (``fingerprint``), so the caller does not wait for it."""
    words: tuple[WordTiming, ...] = ()
    words_estimated: bool = True

    def fingerprint(self) -> bytes:
        """Robust fingerprint of the clip's start (provenance.fingerprint). Blocking."""
        return fingerprint.to_bytes(fingerprint.fingerprint(self.fingerprinted, self.sample_rate))
