"""Roman numerals after a name: "Henry VIII" -> "Henry the Eighth", "World War II" -> "two".

espeak reads "II" as "roman two" and longer numerals letter by letter. Only numerals
written in capitals right after a capitalised word are rewritten, which keeps "I" (the
pronoun), "an IV drip" and "XL" (a size) as they are.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say

_VALUES = {"I": 1, "V": 5, "X": 10}
_LARGEST = 39  # up to XXXIX: past that, capitals such as "XL", "LCD" or "MIX" are words


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Monarchs and popes take an ordinal: "Louis XIV" is "Louis the Fourteenth".
_REGNAL_NAMES = _words(
    "Alexander Alfonso Anne Benedict Boniface Carlos Catherine Charles Christian Clement"
    " Constantine Edward Elizabeth Ferdinand Francis Frederick Friedrich George Gregory Gustav"
    " Harald Henri Henry Innocent Ivan James John Juan Leo Leopold Louis Ludwig Mary Napoleon"
    " Nicholas Olaf Otto Paul Peter Philip Pius Ptolemy Ramesses Richard Stephen Urban Victor"
    " Wilhelm William"
)
# After these a numeral counts: "Chapter IV", "Part II", "World War I" ("I" only after a
# capitalised word).
_COUNTED = (
    r"(?i:chapter|part|volume|vol\.|book|act|scene|war|phase|section|article|title|level"
    r"|stage|type|class|round|episode|season|appendix|psalm|step|grade)"
)
_AFTER_COUNTED = re.compile(rf"(?P<before>\b{_COUNTED}\s)(?P<numeral>[IVX]+)\b(?!['’]\w)")
_AFTER_NAME = re.compile(r"(?P<before>\b(?P<name>[A-Z][a-z]+)\s)(?P<numeral>[IVX]{2,})\b")
# Capitalised words that are not names: "The XX", "And II" are left alone.
NOT_NAMES = _words(
    "A An And As At But By For From He Her His I If In Is It Its My No Not Of On Or Our She So"
    " That The Their They This To Use We With You Your"
)


def value_of(numeral: str) -> int | None:
    """ "XIV" -> 14; None unless ``numeral`` is a well-formed numeral up to XXXIX."""
    total = 0
    for letter, following in zip(numeral, numeral[1:] + " ", strict=True):
        value = _VALUES[letter]
        total += -value if _VALUES.get(following, 0) > value else value
    if not 1 <= total <= _LARGEST or _written(total) != numeral:
        return None
    return total


def _written(value: int) -> str:
    tens, units = divmod(value, 10)
    unit_forms = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX")
    return "X" * tens + unit_forms[units]


def _counted(match: re.Match[str]) -> str:
    value = value_of(match["numeral"])
    if value is None or (value == 1 and match["before"][0].islower()):
        return match[0]  # "the war I fought": the pronoun, unless it is "World War I"
    return match["before"] + say.cardinal(value)


def _after_name(match: re.Match[str]) -> str:
    value = value_of(match["numeral"])
    if value is None or match["name"] in NOT_NAMES or match["numeral"] == "XXX":
        return match[0]
    if match["name"] in _REGNAL_NAMES:
        return f"{match['before']}the {say.ordinal(value).capitalize()}"
    return match["before"] + say.cardinal(value)  # "Rocky II", "Final Fantasy VII"


def roman_numerals(text: str) -> str:
    """Chapter IV -> "Chapter four", Henry VIII -> "Henry the Eighth", Rocky II -> "two"."""
    text = _AFTER_COUNTED.sub(_counted, text)
    return _AFTER_NAME.sub(_after_name, text)
