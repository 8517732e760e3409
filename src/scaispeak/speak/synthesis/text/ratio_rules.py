"""Ratios written with a colon: "16:9", "a ratio of 1:10", "odds of 5:1" -> "sixteen to nine".

Two numbers around a colon are most often a time ("10:30"), and after a name a Bible
verse ("John 3:16", "Genesis 1:1"). So a pair is a ratio only when a word around it says
so, or when it cannot be a time (a clock writes two digits after the colon: no "4:3")
and no name comes just before it.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.roman_rules import NOT_NAMES

# No leading zeros: "05:30" and "4:03" are only ever times.
_PAIR = re.compile(r"(?<![\w:.,/])(?P<a>[1-9]\d{0,2}|0):(?P<b>[1-9]\d{0,3}|0)(?![\w:]|[.,]\d)")
# After or before these even "10:30" is a ratio: "a ratio of 10:30", "a 1:50 scale model".
_RATIO_WORD_BEFORE = re.compile(
    r"\b(?i:ratios?|aspect|odds|scored?|scores|mix|mixed|diluted?)"
    r"(?:\s(?i:of|is|was|are|were))?:?\s$"
)
_RATIO_WORD_AFTER = re.compile(r"\s(?i:ratio|aspect|odds|scale|split|mix)\b")
# A result may name the side before its score ("beat Chelsea 2:1"), which is not a verse.
# Only for pairs that cannot be times: "lost 1:30 on the climb" is a time gap.
_RESULT_BEFORE = re.compile(
    r"\b(?i:won|lost|beat|beats|defeated|drew|tied)\s(?:[A-Z][\w'.-]*\s){0,2}$"
)
_NAME_BEFORE = re.compile(r"\b(?P<name>[A-Z][a-z]+)\s$")
_LOOKBEHIND = 40  # longer than any context above with its words
# "a 60/40 split": shares of a hundred said as a pair, as "fifty-fifty" is (helper-96).
_SHARES = re.compile(
    r"(?<![\w/.,])(?P<a>[1-9]\d)/(?P<b>[1-9]\d)(?=\s(?i:split|mix|blend|portfolio|ratio"
    r"|allocation|rule|division|chance|odds|deal)\b)"
)


def _cannot_be_time(first: str, second: str) -> bool:
    """ "4:3", "21:9", "1:100": one digit after the colon, or too many, or past 59."""
    return len(second) == 1 or len(second) > 2 or len(first) > 2 or int(second) > 59


def _after_name(text: str, start: int) -> bool:
    name = _NAME_BEFORE.search(text, max(0, start - _LOOKBEHIND), start)
    return name is not None and name["name"] not in NOT_NAMES


def _is_ratio(match: re.Match[str]) -> bool:
    text, start = match.string, match.start()
    window = max(0, start - _LOOKBEHIND)
    if _RATIO_WORD_BEFORE.search(text, window, start) or _RATIO_WORD_AFTER.match(text, match.end()):
        return True
    if not _cannot_be_time(match["a"], match["b"]):
        return False
    return not _after_name(text, start) or _RESULT_BEFORE.search(text, window, start) is not None


def _ratio(match: re.Match[str]) -> str:
    if not _is_ratio(match):
        return match[0]
    return f"{say.cardinal(int(match['a']))} to {say.cardinal(int(match['b']))}"


def _shares(match: re.Match[str]) -> str:
    first, second = int(match["a"]), int(match["b"])
    if first + second != 100 or first == 50:
        return match[0]  # 50/50 is an idiom, "fifty-fifty" (numeric_rules)
    return f"{say.cardinal(first)} {say.cardinal(second)}"


def ratios(text: str) -> str:
    """16:9 -> "sixteen to nine", "odds of 5:1", "won 3:1"; 10:30 stays a time; "a
    60/40 split" -> "sixty forty".

    Runs after ranges ("9:00-17:00") and before times, which would read "10:30", and
    fractions ("4/5").
    """
    text = _SHARES.sub(_shares, text)
    return _PAIR.sub(_ratio, text)
