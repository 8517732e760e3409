"""Made speech into one delivered clip: level what the engine left unlevelled, join the
segments with their pauses, resample, limit, fingerprint, place the words, encode.

Pure audio work with no I/O (the pipeline runs it in a thread): every batch answer
and every whole-clip route ends here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance import fingerprint
from scaispeak.speak.synthesis.audio import (
    content_type,
    encode,
    join_segments,
    limit_to_ceiling,
    resample,
)
from scaispeak.speak.synthesis.speech import MadeSpeech, SpokenClip
from scaispeak.speak.synthesis.timestamps import WordTiming, timeline

Finisher = Callable[[Pcm, int, bool], Pcm]
"""Levels (and marks, when told to) one segment's audio at its rate: the pipeline's."""


def assemble_clip(made: MadeSpeech, finish: Finisher, fingerprint_seconds: float) -> SpokenClip:
    """One encoded clip of ``made`` (with word times if its spec asks). ``finish``
    levels segments an async engine returned as they came (``made.levelled`` False)."""
    spec = made.spec
    segments = made.segments
    if not made.levelled:
        segments = tuple(
            replace(seg, pcm=finish(seg.pcm, made.rate, made.embed)) for seg in segments
        )
    parts = [(seg.pcm, seg.pause_ms) for seg in segments]
    joined = join_segments(parts, made.rate) if parts else np.zeros(0, np.float32)
    # Resampling overshoots the ceiling between the levelled samples (by up to
    # ~0.2 dB measured): the delivered clip is limited to it again.
    final = limit_to_ceiling(resample(joined, made.rate, spec.sample_rate), spec.sample_rate)
    # The fingerprint is of exactly what is delivered; only its input is kept here.
    fingerprinted = fingerprint.fingerprinted_part(final, spec.sample_rate, fingerprint_seconds)
    words: list[WordTiming] = []
    estimated = True
    if spec.timestamps:
        timed = [(seg.text, seg.pcm, seg.pause_ms, seg.word_spans) for seg in segments]
        words, estimated = timeline(timed, made.rate)
    return SpokenClip(
        data=encode(final, spec.sample_rate, spec.format),
        content_type=content_type(spec.format, spec.sample_rate),
        sample_rate=spec.sample_rate,
        duration_s=final.size / spec.sample_rate,
        characters=len(spec.text),
        segments=len(made.segments),
        engine_seconds=sum(seg.engine_seconds for seg in made.segments),
        watermarked=spec.watermark,  # by us or, for a self-marking engine, upstream
        fingerprinted=fingerprinted,
        words=tuple(words),
        words_estimated=estimated,
    )
