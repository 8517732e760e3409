"""A segment shaped in pieces comes out as the same samples as shaped whole."""

from __future__ import annotations

import numpy as np
import pytest

from scaispeak.speak.streaming.framing import PieceShaper
from scaispeak.speak.synthesis.audio import shape_segment


@pytest.mark.parametrize(
    ("from_rate", "to_rate", "samples"),
    [
        (22_050, 22_050, 23_284),
        (22_050, 16_000, 23_284),
        (22_050, 48_000, 23_284),
        (22_050, 8_000, 23_284),
        # With its 250 ms pause (6000 samples): 50 640 samples, 46 525.5 at 22.05 kHz,
        # a half sample that plain rounding took up and soxr takes down.
        (24_000, 22_050, 44_640),
    ],
)
def test_head_and_rest_equal_the_whole_segment_shaped_at_once(
    from_rate: int, to_rate: int, samples: int
) -> None:
    rng = np.random.default_rng(3)
    # Under the ceiling after resampling: the limiter (shaping's last step) would work
    # on each piece alone and the whole at once, a case for test_resampled_ceiling.py.
    pcm = np.clip(0.2 * rng.standard_normal(samples), -0.7, 0.7).astype(np.float32)
    whole = shape_segment(pcm, 250.0, from_rate, to_rate)
    shaper = PieceShaper(pcm.size, 250.0, from_rate, to_rate)
    assert shaper.samples_out == whole.size  # known before the rest exists
    head = shaper.head(pcm[:5632])
    rest = shaper.rest(pcm[5632:])
    joined = np.concatenate([head, rest])
    assert joined.size == whole.size
    np.testing.assert_allclose(joined, whole, atol=1e-6)
