"""Phone numbers, read digit by digit in their groups: "(555) 123-4567", "+44 20 7946
0958", "020 7946 0958", "call 555-1234", "dial 911", extensions, and social security
numbers. Runs before dates and ranges (``normalize.py``), which would read "555-123" as
a range.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.unit_rules import UNIT_SYMBOLS
from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

_EXTENSION = r"(?:,?\s?(?:ext\.?|x|extension)\s?(?P<ext>\d{1,6})\b)?"
_PHONE_NANP = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])" + _EXTENSION
)
# At least seven digits, and not a signed quantity: "+12.5%", "+0.12", "+122%" and
# "+1234 users" were read as phone numbers, digit by digit.
_PHONE_INTERNATIONAL = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,6}(?![\w%°-]|[.,]\d|\s?%)"
)
_PHONE_MIN_DIGITS = 7
# A national number with its trunk 0, in groups ("020 7946 0958", "0800 123 4567",
# "07911 123456"): no quantity is written with a leading zero and grouped so.
_PHONE_TRUNK_ZERO = re.compile(
    r"(?<![\w+.,/-])0\d{2,4}(?:[\s-]\d{3,6}){1,2}(?![\w-]|[.,]\d)" + _EXTENSION
)
# Australia's: an area code in brackets ("(03) 9123 4567"), and the national 1300 and
# 1800 numbers ("1300 123 456"), which were read as sums of thousands (helper-96).
_PHONE_AREA_IN_BRACKETS = re.compile(
    r"(?<![\w+.,/-])\(0\d\)\s?\d{4}[\s-]?\d{4}(?![\w-]|[.,]\d)" + _EXTENSION
)
_PHONE_AU_NATIONAL = re.compile(r"(?<![\w+.,/-])1[38]00[\s-]\d{3}[\s-]\d{3}(?![\w-]|[.,]\d)")
# "555-1234" is also how a range is written ("200-1000"): it is a local number when a
# word that asks for a number to be called comes just before it, when its last four
# digits start with 0 (no quantity is written so), or when it is not round as a range's
# ends are ("250-1200") and no word that opens a range comes before it ("from", "pages").
_PHONE_WORDS = r"\b(?i:call|dial|phone|tel|telephone|text|fax|mobile|cell|reach\s+(?:us|me)\s+at)"
_PHONE_LOCAL = re.compile(
    rf"(?P<ctx>{_PHONE_WORDS}:?\s)?(?<![\w+.,/{CURRENCY_SIGNS}#-])(?P<local>[2-9]\d{{2}}[.-]\d{{4}})"
    r"(?![\w-]|[.,]\d)" + _EXTENSION
)
# Service numbers are said digit by digit when someone is to call them: N11 (911, 411),
# and the emergency and police numbers of other countries (999, 112, 000, 111, 101),
# those unless a plural follows ("call 112 customers" counts them).
_SERVICE_NUMBER = re.compile(
    rf"(?P<ctx>{_PHONE_WORDS}\s)(?P<n>[2-9]11|(?:999|112|000|111|101)(?!\s+(?:[a-z]+s|people|times)\b))"
    r"\b(?![.,]\d)"
)
_SOCIAL_SECURITY = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_LONE_EXTENSION = re.compile(r"\b(?i:ext)\.?\s?(?P<ext>\d{1,6})\b")
_LONG_DIGIT_RUN = re.compile(r"(?<![\w.,])\d{10,}(?![\w]|[.,]\d)")


def _speak_digit_groups(match: re.Match[str], start: int | str = 0) -> str:
    """Each group of digits read digit by digit, with its extension; from group ``start``."""
    extension = match.groupdict().get("ext")
    number = match.string[match.start(start) : match.start("ext") if extension else match.end()]
    if extension:
        number = re.sub(r"(?i)[,\s]*(?:ext\.?|x|extension)\s*$", "", number)
    groups = re.findall(r"\+?\d+", number)
    spoken = ", ".join(("plus " if g.startswith("+") else "") + say.digits(g) for g in groups)
    return spoken + (f", extension {say.digits(extension)}" if extension else "")


def _international_number(match: re.Match[str]) -> str:
    if sum(ch.isdigit() for ch in match[0]) < _PHONE_MIN_DIGITS:
        return match[0]
    return _speak_digit_groups(match)


def _trunk_zero_number(match: re.Match[str]) -> str:
    end = match.start("ext") if match["ext"] else match.end()
    digits = sum(c.isdigit() for c in match.string[match.start() : end])
    return _speak_digit_groups(match) if 10 <= digits <= 11 else match[0]  # UK, EU lengths


_RANGE_OPENS = re.compile(
    r"\b(?i:from|between|of|rang(?:e|es|ed|ing)|pages?|pp\.?|ages?|sizes?)\s$"
)
_WORD_AFTER = re.compile(r"\s?(?:%|(?P<word>[A-Za-z/]+))")


def _written_as_a_range(match: re.Match[str]) -> bool:
    first, last = match["local"][:3], match["local"][4:]
    if last[0] == "0":
        return False
    if first[-1] == "0" and last[-1] == "0":
        return True  # "250-1200"
    opened = _RANGE_OPENS.search(match.string, max(0, match.start() - 10), match.start())
    return opened is not None or _counts_something(match)


def _counts_something(match: re.Match[str]) -> bool:
    """A unit, a percent sign or a plural after it: "350-1275 units", "250-1275 kg"."""
    after = _WORD_AFTER.match(match.string, match.end())
    if after is None:
        return False
    word = after["word"]
    if word is None or word in UNIT_SYMBOLS:
        return True
    return len(word) > 3 and word.endswith("s") and word.islower()


def _local_number(match: re.Match[str]) -> str:
    if not match["ctx"] and _written_as_a_range(match):
        return match[0]  # "200-1000", "from 555-1234"
    return (match["ctx"] or "") + _speak_digit_groups(match, start="local")


def phone_numbers(text: str) -> str:
    """(555) 123-4567, +44 20 7946 0958, 020 7946 0958, 5551234567 -> digit by digit,
    groups split by commas.

    Also "call 555-1234", "dial 911", ext. 89 and social security numbers (123-45-6789).
    Runs before dates and ranges, which would otherwise read "555-123" as a range.
    """
    text = _PHONE_NANP.sub(_speak_digit_groups, text)
    text = _PHONE_INTERNATIONAL.sub(_international_number, text)
    text = _PHONE_TRUNK_ZERO.sub(_trunk_zero_number, text)
    text = _PHONE_AREA_IN_BRACKETS.sub(_speak_digit_groups, text)
    text = _PHONE_AU_NATIONAL.sub(_speak_digit_groups, text)
    text = _PHONE_LOCAL.sub(_local_number, text)
    text = _SERVICE_NUMBER.sub(lambda m: m["ctx"] + say.digits(m["n"]), text)
    text = _SOCIAL_SECURITY.sub(_speak_digit_groups, text)
    text = _LONE_EXTENSION.sub(lambda m: f"extension {say.digits(m['ext'])}", text)
    return _LONG_DIGIT_RUN.sub(_speak_digit_groups, text)
