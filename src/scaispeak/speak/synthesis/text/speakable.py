"""Whether a text has anything to read aloud once normalisation has had its say."""

from __future__ import annotations

from scaispeak.speak.synthesis.text.normalize import normalize_text


def has_letter_or_digit(text: str) -> bool:
    """True for almost every real text, at once: the cheap test before the exact one."""
    return any(ch.isalnum() for ch in text)


def has_words(text: str) -> bool:
    """Whether the voice would say anything: normalisation drops emoji, stars and
    markup, so "🙂🙂" or "** **" would come back as silence, while "&" or "%" are
    words ("and", "percent"). Linear in the text, but a whole normalisation pass
    when the text holds no letter or digit at all.
    """
    return has_letter_or_digit(text) or has_letter_or_digit(normalize_text(text))
