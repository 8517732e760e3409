"""Whether a text has anything to read aloud once normalisation has had its say."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from scaispeak.speak.synthesis.text.normalize import normalize_text
from scaispeak.speak.synthesis.text.script_rules import is_unspoken

_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH_SURROGATE = re.compile("[\ud800-\udbff]$")


def has_letter_or_digit(text: str) -> bool:
    """True for almost every real text, at once: the cheap test before the exact one.
    Letters of the scripts normalisation leaves out ("你好") are not counted."""
    return any(ch.isalnum() and _read(ch) for ch in text)


# Digits that markup owns, read as nothing: a citation marker ("[1]", "[^2]") or a
# heart ("<3"). Any other digit is read aloud ("42", "$5", "#1").
_MARKUP_DIGITS = re.compile(r"\[\^?\d+\]|<3+")


def has_read_digit(text: str) -> bool:
    """Whether ``text`` holds a digit that is read aloud: linear, no normalisation."""
    return has_letter_or_digit(_MARKUP_DIGITS.sub(" ", text))


def has_letter(text: str) -> bool:
    """``has_letter_or_digit`` without the digits, which may all be markup's: a citation
    marker "[1]" or a heart "<3" is read as nothing."""
    return any(ch.isalpha() and _read(ch) for ch in text)


def _read(char: str) -> bool:
    """Whether ``char`` is of a script normalisation keeps, and is not a letter of it
    that normalisation drops ("Ъ", "ǂ", archaic Greek "ϙ"): a text of those alone was
    counted as words and answered 200 with no audio."""
    return char.isascii() or (not is_unspoken(char) and _kept(char))


@lru_cache(maxsize=8192)  # only letters and digits of the blocks the voices read get here
def _kept(char: str) -> bool:
    """A modifier letter alone ("ʻ", the okina) is a mark on a word, read as nothing."""
    return any(c.isalnum() and unicodedata.category(c) != "Lm" for c in normalize_text(char))


def has_words(text: str) -> bool:
    """Whether the voice would say anything: normalisation drops emoji, stars and
    markup, so "🙂🙂", "** **" or "[1]" would come back as silence, while "&" or "%"
    are words ("and", "percent"). Linear in the text; a normalisation pass only for a
    text of symbols, emoji and markup alone (a letter or a read digit decides at once:
    a page of digits took seconds to normalise, holding the event loop).
    """
    if has_letter(text) or has_read_digit(text):
        return True
    return has_letter_or_digit(normalize_text(" ".join(text.split())))


def has_lone_surrogate(text: str) -> bool:
    """Whether the text holds half of a UTF-16 pair (JSON allows ``"\\ud83c"``): no
    character, and nothing an encoder or engine can take."""
    return _SURROGATE.search(text) is not None


def paired(text: str) -> str:
    """The text with every UTF-16 surrogate pair joined into its one character (a
    client that slices strings by UTF-16 units sends an emoji as two halves)."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def split_trailing_high_surrogate(text: str) -> tuple[str, str]:
    """(text, "") or, when it ends in the first half of a pair, (the rest, that half):
    the second half may come in the next fragment."""
    if _HIGH_SURROGATE.search(text):
        return text[:-1], text[-1]
    return text, ""
