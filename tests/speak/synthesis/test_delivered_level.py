"""Delivered audio is levelled, marked, and under the −1 dBFS ceiling throughout."""

from __future__ import annotations

import numpy as np
import pytest

from scaispeak.settings import EngineSettings
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.synthesis.audio import AudioFormat, integrated_loudness
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text import Segment

VOICE = "en_US-joe-medium"
RATE = 22_050


async def test_marked_whole_segments_keep_the_ceiling_and_the_mark(
    pipeline: SynthesisPipeline,
) -> None:
    """The mark adds peaks above the levelled audio's −1 dBFS (to −0.24 dBFS measured on
    the first two sentences): each segment is limited again after marking, and the mark
    survives that."""
    for text in (
        "The relay should add almost nothing to the time before audio starts.",
        "Peter Piper picked a peck of pickled peppers!",
        "Stop! Put that down, right now.",
    ):
        segment = Segment(text, "sentence")
        marked = (await pipeline.speak_segment(0, segment, "piper", VOICE, 1.0, watermark=True)).pcm
        assert np.abs(marked).max() <= 10 ** (-1 / 20), text
        assert shared_watermarker().is_marked(marked, RATE), text
        # Levelled to within 0.1 LU; the mark and its limiting move it up to ~0.3 more.
        assert abs(integrated_loudness(marked, RATE) - EngineSettings().target_lufs) < 0.5


@pytest.mark.parametrize("rate", [24_000, 48_000])
async def test_a_rendered_clip_keeps_the_ceiling_after_resampling(
    pipeline: SynthesisPipeline, rate: int
) -> None:
    """Resampling a levelled segment overshoots between its samples (~0.2 dB measured
    at 24 kHz): the delivered clip is limited again. A relay front then receives audio
    that is levelled already and only measures it."""
    text = "The relay should add almost nothing to the time before audio starts."
    spec = SpeechSpec(text, "piper", VOICE, AudioFormat.pcm, rate, watermark=True)
    clip = await pipeline.render(spec)
    pcm = np.frombuffer(clip.data, "<i2").astype(np.float32) / 32768
    assert np.abs(pcm).max() <= 10 ** (-1 / 20)
    assert abs(integrated_loudness(pcm, rate) - EngineSettings().target_lufs) < 0.5
