"""Words placed from a VITS voice's durations: the frame arithmetic, the alignment of the
text's words to espeak's, and Piper's own spans on real speech against Whisper's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine
from scaispeak.speak.engines.vits_words import (
    SpokenWord,
    align_words,
    place_words,
    spoken_words,
)
from scaispeak.speak.synthesis.text import normalize_text
from scaispeak.speak.synthesis.timestamps import words_from_spans
from tests.support.pauses import COMMA_TEXT, assert_comma_pause_between_words

ID_MAP = DEFAULT_PHONEME_ID_MAP


def frames_for(phonemes: list[str], per_id: list[int] | None = None) -> np.ndarray:
    """Durations for ``BOS PAD (phoneme PAD)* EOS``: 1 frame per id unless given."""
    count = 2 + 2 * len(phonemes) + 1
    return np.asarray(per_id if per_id is not None else [1] * count, dtype=np.int64)


def test_words_are_the_runs_between_spaces_without_stress_marks_or_pauses() -> None:
    phonemes = list("hˈaɪ, juː.")  # "hi, you." : h ˈ a ɪ , ␠ j u ː .
    per_id = [3, 1] + [2] * (2 * len(phonemes)) + [4]
    words = spoken_words(phonemes, frames_for(phonemes, per_id), ID_MAP, offset=100)
    assert words is not None and len(words) == 2
    # BOS + PAD take frames 100..104; "h" is the first phoneme: its id and pad.
    assert words[0].start == 104 and words[0].phonemes == 3  # h a ɪ (ˈ and , left out)
    assert words[0].end == 104 + 4 * 4  # h, ˈ, a, ɪ: four phonemes of 2+2 frames
    comma_and_space = 2 * 4
    assert words[1].start == words[0].end + comma_and_space
    assert words[1].phonemes == 3 and words[1].end == words[1].start + 3 * 4  # j u ː


def test_durations_that_do_not_fit_the_ids_are_refused() -> None:
    phonemes = list("aɪ")
    assert spoken_words(phonemes, np.ones(4, np.int64), ID_MAP) is None


def word(start: int, phonemes: int, each: int = 10) -> SpokenWord:
    return SpokenWord(tuple((start + k * each, start + (k + 1) * each) for k in range(phonemes)))


def test_one_to_one_words_keep_the_spoken_spans() -> None:
    spoken = [word(0, 3), word(40, 2)]
    frames = align_words(["cat", "is"], spoken, {"cat": 3, "is": 2}.__getitem__)
    assert frames == [(0, 30), (40, 60)]


def test_words_run_together_are_cut_at_phoneme_boundaries() -> None:
    # espeak says "in the" as one word, ɪnðə: four phonemes, two each when alone.
    spoken = [word(0, 3), word(40, 4), word(90, 3)]
    counts = {"sat": 3, "in": 2, "the": 2, "hat": 3}
    frames = align_words(["sat", "in", "the", "hat"], spoken, counts.__getitem__)
    assert frames == [(0, 30), (40, 60), (60, 80), (90, 120)]


def test_a_word_without_phonemes_takes_no_time() -> None:
    spoken = [word(0, 2), word(50, 3)]
    counts = {"go": 2, "—": 0, "and": 3}
    frames = align_words(["go", "—", "and"], spoken, counts.__getitem__)
    assert frames == [(0, 20), (20, 20), (50, 80)]


def test_a_word_spoken_as_two_spans_both() -> None:
    spoken = [word(0, 2), word(30, 2), word(60, 3)]
    frames = align_words(["ab", "cde"], spoken, {"ab": 4, "cde": 3}.__getitem__)
    assert frames == [(0, 50), (60, 90)]


def test_words_that_cannot_be_lined_up_give_none() -> None:
    spoken = [word(0, 9)]
    assert align_words(["a", "b", "c", "d"], spoken, lambda w: 1) is None  # 4 vs 9
    assert align_words(["one"], [], lambda w: 3) is None


def test_espeak_failing_while_placing_gives_none_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    phonemes = list("aɪ")

    def broken(word: str) -> int:
        raise RuntimeError("espeak fell over")

    sentences = [(phonemes, frames_for(phonemes))]
    assert place_words("I", sentences, ID_MAP, broken, 0.01) is None
    # The warning names the segment's size, not the caller's words (helper-79).
    assert "1-word segment" in caplog.text and "'I'" not in caplog.text
    assert place_words("I", sentences, ID_MAP, lambda w: 2, 0.01) == ((0.02, 0.06),)


TEXTS = (
    "Nobody noticed the stranger on the sea wall.",
    "I'm in the middle of it, and it's a lot of work.",
    'She said: "Go!" — and he went.',
    "It costs $42.50 on March 3rd.",
    "What do you want to do at the end of the day?",
    "Thanks so much 😊 for asking.",  # a word read as nothing: it owned one, and
    # every segment with an emoji fell back to estimated times
)


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine()
    engine.warm()
    return engine


@pytest.mark.parametrize("text", TEXTS)
def test_piper_places_every_word_in_order_inside_its_audio(piper: PiperEngine, text: str) -> None:
    timed = piper.synthesize_timed(normalize_text(text), VOICE_KEY)
    assert timed.word_spans is not None, "espeak's words and the text's did not line up"
    words = words_from_spans(text, timed.word_spans)
    assert words is not None and [w.word for w in words] == text.split()
    seconds = timed.pcm.size / piper.sample_rate
    for before, after in itertools.pairwise(words):
        assert before.start_s <= before.end_s <= after.start_s + 1e-9
    assert words[0].start_s >= 0 and words[-1].end_s <= seconds


def test_a_comma_pause_falls_between_the_words_around_it(piper: PiperEngine) -> None:
    for _ in range(3):  # Piper's durations are sampled: three renditions
        timed = piper.synthesize_timed(normalize_text(COMMA_TEXT), VOICE_KEY)
        assert_comma_pause_between_words(timed.pcm, piper.sample_rate, timed.word_spans)
