"""Which texts the voice would answer with silence (refused as empty_text)."""

from __future__ import annotations

import time

import pytest

from scaispeak.speak.synthesis.text import normalize_text
from scaispeak.speak.synthesis.text.speakable import has_words


@pytest.mark.parametrize(
    "text", ["Hello", "🙂 hi", "42", "&", "%", "#1", "°", "Ωμέγα", "Привет", "日本語 hi", "½"]
)
def test_text_with_a_word_or_a_spoken_symbol_has_words(text: str) -> None:
    assert has_words(text)


@pytest.mark.parametrize(
    "text", ["🙂🙂", "❤️", "★ ✅ 🇺🇸", "** **", "...", "—", "()", "日本語", "مرحبا", "안녕하세요"]
)
def test_emoji_symbols_markup_and_unread_scripts_alone_have_no_words(text: str) -> None:
    """An English voice named each character of "日本語" ("Japanese letter"): scripts it
    cannot read are left out, and a text of nothing else is refused as empty."""
    assert not has_words(text)


@pytest.mark.parametrize("text", ["[1]", "[1][2][3]", "[^2]", "<3", "<333", "<3 <3 <3", "<3<3"])
def test_digits_that_are_markup_alone_have_no_words(text: str) -> None:
    """A citation marker or a heart was answered 200 with silence: its digit passed."""
    assert not has_words(text)


@pytest.mark.parametrize("space", [" ", "\t", "\n", " \n"])
def test_long_runs_of_spaces_are_judged_in_linear_time(space: str) -> None:
    """Each rule that began with optional spaces rescanned a run of them from every
    position in it: 40,000 spaces after an emoji took 15 s, 500,000 (a job) most of an
    hour, in a regex call that holds the GIL. Quadratic would take minutes here."""
    run = space * 50_000
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    assert not has_words("🙂" + run + run)
    assert normalize_text("🙂" + run + "&" + run + "°" + run + "." + run).strip()
    assert time.thread_time() - started < 10


@pytest.mark.parametrize("token", ["123 ", "\\[", "\\(", "x - "])
def test_long_runs_of_this_stops_new_patterns_are_judged_in_linear_time(token: str) -> None:
    """Space-grouped thousands rescanned a run of groups from each one (a 100,000-character
    run of "123 " took 23 s, holding the GIL), and LaTeX's display pattern scanned 2,000
    characters from every "\\[" (helper-80). Quadratic would take minutes here."""
    text = token * (200_000 // len(token))
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    has_words(text)
    normalize_text(text)
    assert time.thread_time() - started < 20
