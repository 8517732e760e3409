"""Where each word is in a Piper VITS voice's audio, from the voice's own durations.

The duration predictor gives every phoneme id a whole number of latent frames
(``hop_length`` samples each), so the model knows to the frame where each phoneme it
spoke begins and ends. Piper's ids are ``BOS PAD (phoneme PAD)* EOS``; a phoneme's
span is its id and the pad after it. espeak separates words with a space phoneme, and
writes punctuation as phonemes of their own (a comma's pause lasts frames, but it is
no part of a word: spans leave it out).

What espeak calls a word is not always a word of the text: it runs some unstressed
function words together ("in the" is one word, ``ɪnðə``), and says nothing for a
dash. So the text's words are aligned to espeak's by their phoneme counts, each text
word phonemized on its own (:func:`align_words`). A run-together word is shared among
its text words at phoneme boundaries, in proportion to their own counts. Where the
two disagree past a small tolerance the alignment gives up, and the caller falls back
to an estimate rather than report wrong times as exact.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaispeak.speak.engines.base import WordSpans

_log = logging.getLogger(__name__)
_BOS, _PAD, _EOS, _WORD_BREAK = "^", "_", "$", " "
_STRESS = frozenset("ˈˌ")
_MAX_MISMATCH = 0.25
"""Most phonemes (per phoneme of the text) the alignment may leave unexplained."""
_REGROUP_COST = 0.5
"""A run-together or split word costs this many phonemes: one-to-one is preferred."""


def place_words(
    text: str,
    sentences: Sequence[tuple[Sequence[str], npt.NDArray[np.integer]]],
    id_map: Mapping[str, Sequence[int]],
    phonemes_of: Callable[[str], int],
    seconds_per_frame: float,
) -> WordSpans | None:
    """Where each whitespace-separated word of ``text`` is in the voice's audio for it.

    ``sentences``: each sentence's phonemes (as espeak gave them) and the duration
    predictor's frames per phoneme id, in the order the audio joins them.
    ``phonemes_of``: a word's sounding phoneme count said alone (:class:`PhonemeCounts`).
    None when the words cannot be placed (the caller estimates), espeak failing included.
    """
    words: list[SpokenWord] = []
    offset = 0
    for phonemes, frames_per_id in sentences:
        sentence = spoken_words(phonemes, frames_per_id, id_map, offset)
        if sentence is None:
            return None
        words += sentence
        offset += int(np.sum(frames_per_id))
    try:
        frames = align_words(text.split(), words, phonemes_of)
    except Exception:  # espeak can raise anything; the audio stands, the caller estimates
        # The caller's words are not logged: their count says enough to find the case.
        _log.warning(
            "could not place the words of a %d-word segment", len(text.split()), exc_info=True
        )
        return None
    if frames is None:
        return None
    return tuple((start * seconds_per_frame, end * seconds_per_frame) for start, end in frames)


class PhonemeCounts:
    """Words' sounding phoneme counts said alone, cached: words repeat (function words
    most of all) and espeak is deterministic. Bounded; safe to share between threads."""

    def __init__(self, phonemize: Callable[[str], list[list[str]]], limit: int = 8192) -> None:
        self._phonemize = phonemize
        self._limit = limit
        self._counts: dict[str, int] = {}

    def __call__(self, word: str) -> int:
        count = self._counts.get(word)
        if count is None:
            count = sum(sounding_phonemes(sentence) for sentence in self._phonemize(word))
            if len(self._counts) >= self._limit:
                self._counts.clear()  # crude, but bounded: a refill costs microseconds a word
            self._counts[word] = count
        return count


@dataclass(frozen=True)
class SpokenWord:
    """A word as the voice spoke it: its sounding phonemes' frames, end exclusive."""

    phoneme_frames: tuple[tuple[int, int], ...]
    """(start, end) frame of each sounding phoneme, in order (stress marks, pauses left out)."""

    @property
    def start(self) -> int:
        return self.phoneme_frames[0][0]

    @property
    def end(self) -> int:
        return self.phoneme_frames[-1][1]

    @property
    def phonemes(self) -> int:
        return len(self.phoneme_frames)


def spoken_words(
    phonemes: Sequence[str],
    frames_per_id: npt.NDArray[np.integer],
    id_map: Mapping[str, Sequence[int]],
    offset: int = 0,
) -> list[SpokenWord] | None:
    """The words of one sentence's ``phonemes`` with their frames (plus ``offset``).

    ``frames_per_id`` is the duration predictor's output for ``phonemes_to_ids(phonemes)``;
    None when the two do not line up (an id map this layout does not describe).
    """
    pad = len(id_map[_PAD])
    cursor = len(id_map[_BOS]) + pad
    spans: list[tuple[str, int, int] | None] = []
    for phoneme in phonemes:
        if phoneme not in id_map:  # Piper skips it too (with a warning)
            continue
        width = len(id_map[phoneme]) + pad
        spans.append((phoneme, cursor, cursor + width))
        cursor += width
    if cursor + len(id_map[_EOS]) != len(frames_per_id):
        return None
    edges = offset + np.concatenate([[0], np.cumsum(frames_per_id)]).astype(np.int64)
    words: list[SpokenWord] = []
    current: list[tuple[int, int]] = []
    for span in [*spans, None]:
        if span is None or span[0] == _WORD_BREAK:
            if current:
                words.append(SpokenWord(tuple(current)))
            current = []
            continue
        phoneme, first, last = span
        if _sounds(phoneme):
            current.append((int(edges[first]), int(edges[last])))
    return words


def sounding_phonemes(phonemes: Sequence[str]) -> int:
    """How many of ``phonemes`` are speech (no stress marks, pauses or word breaks)."""
    return sum(1 for phoneme in phonemes if phoneme != _WORD_BREAK and _sounds(phoneme))


def _sounds(phoneme: str) -> bool:
    return phoneme not in _STRESS and not unicodedata.category(phoneme[0]).startswith("P")


def align_words(
    text_words: Sequence[str], spoken: Sequence[SpokenWord], phonemes_of: Callable[[str], int]
) -> list[tuple[int, int]] | None:
    """(start, end) frames of each of ``text_words`` in ``spoken``, or None.

    ``phonemes_of(word)`` is the word's sounding phoneme count when said alone. A text
    word may own one spoken word, share one with up to two neighbours (run together),
    own two (split), or own none when it has no phonemes (a dash).
    """
    weights = [phonemes_of(word) for word in text_words]
    path = _best_path(weights, [word.phonemes for word in spoken])
    if path is None:
        return None
    frames: list[tuple[int, int]] = []
    i = j = 0
    for taken_text, taken_spoken in path:
        group = weights[i : i + taken_text]
        if taken_spoken == 0:  # silent words: an empty span where the last word ended
            at = frames[-1][1] if frames else (spoken[j].start if j < len(spoken) else 0)
            frames += [(at, at)] * taken_text
        elif taken_text == 1:
            frames.append((spoken[j].start, spoken[j + taken_spoken - 1].end))
        else:
            frames += _shared(spoken[j], group)
        i, j = i + taken_text, j + taken_spoken
    return frames


_MOVES = ((1, 1), (2, 1), (3, 1), (1, 2), (1, 0))
"""(text words, spoken words) one step of the alignment consumes."""


def _best_path(weights: list[int], counts: list[int]) -> list[tuple[int, int]] | None:
    """The cheapest monotonic grouping of text words onto spoken words (edit-style DP)."""
    n, m = len(weights), len(counts)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    step: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            for dt, ds in _MOVES:
                if i + dt > n or j + ds > m:
                    continue
                said = sum(weights[i : i + dt])
                if ds == 0 and said > 0:
                    continue  # only a word with no phonemes may go unspoken
                heard = sum(counts[j : j + ds])
                regrouped = dt > 1 or ds > 1
                extra = abs(said - heard) + (_REGROUP_COST if regrouped else 0.0)
                if cost[i][j] + extra < cost[i + dt][j + ds]:
                    cost[i + dt][j + ds] = cost[i][j] + extra
                    step[i + dt][j + ds] = (dt, ds)
    if cost[n][m] > _MAX_MISMATCH * max(1, sum(weights)):
        return None
    path: list[tuple[int, int]] = []
    i, j = n, m
    while i or j:
        taken = step[i][j]
        assert taken is not None
        path.append(taken)
        i, j = i - taken[0], j - taken[1]
    return path[::-1]


def _shared(word: SpokenWord, weights: list[int]) -> list[tuple[int, int]]:
    """A run-together spoken word cut among its text words at phoneme boundaries."""
    total = max(1, sum(weights))
    out: list[tuple[int, int]] = []
    first = 0
    for k in range(len(weights)):
        last = max(first, round(word.phonemes * sum(weights[: k + 1]) / total))
        if k == len(weights) - 1:
            last = word.phonemes
        if last > first:
            out.append((word.phoneme_frames[first][0], word.phoneme_frames[last - 1][1]))
        else:
            at = out[-1][1] if out else word.start
            out.append((at, at))
        first = last
    return out
