"""Which texts the voice would answer with silence (refused as empty_text)."""

from __future__ import annotations

import pytest

from scaispeak.speak.synthesis.text.speakable import has_words


@pytest.mark.parametrize(
    "text", ["Hello", "🙂 hi", "42", "&", "%", "#1", "°", "Ωμέγα", "日本語", "½"]
)
def test_text_with_a_word_or_a_spoken_symbol_has_words(text: str) -> None:
    assert has_words(text)


@pytest.mark.parametrize("text", ["🙂🙂", "❤️", "★ ✅ 🇺🇸", "** **", "...", "—", "()"])
def test_emoji_symbols_and_markup_alone_have_no_words(text: str) -> None:
    assert not has_words(text)
