"""Fingerprints find the same clip after re-encoding and tell different clips apart."""

from __future__ import annotations

import pytest

from scaispeak.speak.provenance import fingerprint as fp
from tests.speak.provenance.conftest import TRANSFORMS, Clip


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_clip_matches_itself_and_no_other_after(transform: str, stock: list[Clip]) -> None:
    stored = [fp.fingerprint(c.pcm, c.rate) for c in stock]
    for index, clip in enumerate(stock):
        query = fp.fingerprint(*TRANSFORMS[transform](clip.pcm, clip.rate))
        results = [fp.match(query, s) for s in stored]
        assert results[index].matched, (clip.name, results[index])
        others = [r for i, r in enumerate(results) if i != index]
        assert not any(r.matched for r in others), (clip.name, others)


def test_same_text_in_another_voice_does_not_match(stock: list[Clip]) -> None:
    joe, kokoro = stock[0], stock[1]  # the same sentence
    assert not fp.match(
        fp.fingerprint(joe.pcm, joe.rate), fp.fingerprint(kokoro.pcm, kokoro.rate)
    ).matched


def test_an_excerpt_is_found_where_it_starts(stock: list[Clip]) -> None:
    clip = stock[0]
    excerpt = clip.pcm[int(1.5 * clip.rate) : int(4.0 * clip.rate)]
    found = fp.match(fp.fingerprint(excerpt, clip.rate), fp.fingerprint(clip.pcm, clip.rate))
    assert found.matched
    assert found.offset_s == pytest.approx(1.5, abs=0.05)


def test_fingerprints_round_trip_through_bytes(stock: list[Clip]) -> None:
    words = fp.fingerprint(stock[0].pcm, stock[0].rate)
    assert (fp.from_bytes(fp.to_bytes(words)) == words).all()
    assert len(fp.to_bytes(words)) == 4 * words.size
    assert words.size == pytest.approx(
        stock[0].pcm.size / stock[0].rate * fp.frames_per_second(), abs=20
    )
