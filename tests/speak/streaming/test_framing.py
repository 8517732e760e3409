"""A segment shaped in pieces comes out as the same samples as shaped whole."""

from __future__ import annotations

import numpy as np
import pytest

from scaispeak.speak.streaming.framing import PieceShaper, shape_segment


@pytest.mark.parametrize("to_rate", [22_050, 16_000, 48_000, 8_000])
def test_head_and_rest_equal_the_whole_segment_shaped_at_once(to_rate: int) -> None:
    rng = np.random.default_rng(3)
    pcm = (0.3 * rng.standard_normal(22_050 + 1234)).astype(np.float32)
    whole = shape_segment(pcm, 250.0, 22_050, to_rate)
    shaper = PieceShaper(pcm.size, 250.0, 22_050, to_rate)
    assert shaper.samples_out == whole.size  # known before the rest exists
    head = shaper.head(pcm[:5632])
    rest = shaper.rest(pcm[5632:])
    joined = np.concatenate([head, rest])
    assert joined.size == whole.size
    np.testing.assert_allclose(joined, whole, atol=1e-6)
