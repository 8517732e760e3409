"""Whether a text has anything to read aloud once normalisation has had its say."""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text.normalize import normalize_text
from scaispeak.speak.synthesis.text.script_rules import is_unspoken

_SURROGATE = re.compile("[\ud800-\udfff]")
_HIGH_SURROGATE = re.compile("[\ud800-\udbff]$")


def has_letter_or_digit(text: str) -> bool:
    """True for almost every real text, at once: the cheap test before the exact one.
    Letters of the scripts normalisation leaves out ("你好") are not counted."""
    return any(ch.isalnum() and _read(ch) for ch in text)


_DIGITS_ALONE_DECIDE_PAST = 4096
"""Characters past which digits alone are taken as words: a job's page of numbers is
not normalised whole (seconds, holding the interpreter) to find it says something."""


def has_letter(text: str) -> bool:
    """``has_letter_or_digit`` without the digits, which may all be markup's: a citation
    marker "[1]" or a heart "<3" is read as nothing."""
    return any(ch.isalpha() and _read(ch) for ch in text)


def _read(char: str) -> bool:
    """Whether ``char`` is of a script normalisation keeps."""
    return char.isascii() or not is_unspoken(char)


def has_words(text: str) -> bool:
    """Whether the voice would say anything: normalisation drops emoji, stars and
    markup, so "🙂🙂", "** **" or "[1]" would come back as silence, while "&" or "%"
    are words ("and", "percent"). Linear in the text, but a whole normalisation pass
    when the text holds no letter at all.
    """
    if has_letter(text):
        return True
    if len(text) > _DIGITS_ALONE_DECIDE_PAST and has_letter_or_digit(text):
        return True  # markup's digits ("[1]", "<3") come a few at a time, not by the page
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
