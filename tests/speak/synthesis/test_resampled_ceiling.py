"""Audio resampled to the caller's rate stays under the −1 dBFS ceiling on every path:
streams (whole segments, and opened ones sent as head and rest) and jobs' files went up
to +0.4 dB over it at 8-48 kHz, where inline clips were limited again (helper-87)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scaispeak.platform.storage import LocalBlobStore
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.jobs.assembly import assemble, segment_key, wav_bytes
from scaispeak.speak.streaming.framing import PieceShaper
from scaispeak.speak.synthesis.audio import AudioFormat, resample, shape_segment
from scaispeak.speak.synthesis.audio.loudness import PEAK_CEILING_DBFS

ENGINE_RATE = 22_050
CEILING = 10 ** (PEAK_CEILING_DBFS / 20)
RATES = [8_000, 16_000, 44_100, 48_000]
INT16_STEP = 1 / 32_768


def _levelled_to_the_ceiling() -> Pcm:
    """Two seconds of noise whose many peaks sit right at the ceiling, as a levelled
    segment's do after the limiter: resampling rings over them."""
    noise = np.random.default_rng(5).normal(0, 0.4, 2 * ENGINE_RATE)
    return np.clip(noise, -CEILING, CEILING).astype(np.float32)


def _peak(pcm: Pcm) -> float:
    return float(np.abs(pcm).max())


@pytest.mark.parametrize("rate", RATES)
def test_resampling_alone_overshoots(rate: int) -> None:
    """What the other tests guard against is there to be caught."""
    assert _peak(resample(_levelled_to_the_ceiling(), ENGINE_RATE, rate)) > CEILING * 1.01


@pytest.mark.parametrize("rate", RATES)
def test_a_shaped_segment_keeps_the_ceiling(rate: int) -> None:
    shaped = shape_segment(_levelled_to_the_ceiling(), 250.0, ENGINE_RATE, rate)
    assert _peak(shaped) <= CEILING


@pytest.mark.parametrize("rate", RATES)
def test_an_opened_segment_keeps_the_ceiling_in_both_pieces(rate: int) -> None:
    pcm = _levelled_to_the_ceiling()
    cut = ENGINE_RATE // 4
    shaper = PieceShaper(len(pcm), 250.0, ENGINE_RATE, rate)
    head, rest = shaper.head(pcm[:cut]), shaper.rest(pcm[cut:])
    assert _peak(head) <= CEILING and _peak(rest) <= CEILING
    assert head.size + rest.size == shaper.samples_out


@pytest.mark.parametrize("rate", [8_000, 48_000])
async def test_a_jobs_file_keeps_the_ceiling(tmp_path: Path, rate: int) -> None:
    storage = LocalBlobStore(tmp_path / "blobs")
    for index in range(2):
        await storage.put_bytes(
            segment_key("job", index), wav_bytes(_levelled_to_the_ceiling(), 22_050)
        )
    await assemble(storage, "job", [250.0, 0.0], AudioFormat.pcm, rate, "out", tmp_path)
    pcm = np.frombuffer(await storage.get("out"), "<i2").astype(np.float32) / 32_768
    assert pcm.size > 3 * rate
    assert _peak(pcm) <= CEILING + 2 * INT16_STEP  # 16-bit rounding, twice
