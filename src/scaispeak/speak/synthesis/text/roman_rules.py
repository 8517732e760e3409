"""Roman numerals after a name: "Henry VIII" -> "Henry the Eighth", "World War II" -> "two".

espeak reads "II" as "roman two" and longer numerals letter by letter. Only numerals
written in capitals right after a capitalised word are rewritten, which keeps "I" (the
pronoun), "an IV drip" and "XL" (a size) as they are. A numeral of one letter ("Henry V",
"Charles I") only after a monarch's name or a title, where it is the ordinal, and "I"
there only where it cannot be the pronoun ("I told John I would"). After a given name
and a surname, II to V is a generation: "John Smith III" -> "John Smith the Third".
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say

_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_LARGEST = 39  # up to XXXIX: past that, capitals such as "XL", "LCD" or "MIX" are words
_WRITTEN_VALUES = (
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
)


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
# Past XXXIX only where numbering runs that high: "Chapter XLII", "Super Bowl LVIII"
# (helper-96). A numeral there has an I, V or X, except after "Super Bowl": "Part CD" and
# "Volume MD" are not 400 and 1500.
_NUMBERED_HIGH = re.compile(
    r"(?P<before>\b(?:(?i:chapter|part|volume|vol\.|book|section|article|title|psalm"
    r"|episode|season)|(?P<bowl>Super Bowl))\s)(?P<numeral>[IVXLCDM]{2,})\b(?!['’]\w)"
)
_AFTER_NAME = re.compile(r"(?P<before>\b(?P<name>[A-Z][a-z]+)\s)(?P<numeral>[IVX]{2,})\b")
_ONE_LETTER_AFTER_NAME = re.compile(
    r"(?P<before>\b(?P<name>[A-Z][a-z]+)\s)(?P<numeral>[IVX])\b(?!['’](?!s\b)\w)"
)
# A title and one to three names before the numeral: "King George V", "Pope Leo X",
# "Pope John Paul II", "King Rama IX" (a name not listed above).
_TITLE_BEFORE = re.compile(
    r"\b(?:King|Queen|Pope|Emperor|Empress|Tsar|Czar|Tsarina|Kaiser|Sultan|Pharaoh|Prince"
    r"|Princess)\s(?:[A-Z][a-z]+\s){1,3}$"
)
_LONGEST_TITLED_NAME = 48
# A given name (and perhaps a middle initial) before a surname: "John Smith III" and
# "Henry Ford II" are generations ("the Third"), where "Final Fantasy VII" and
# "Street Fighter II" are titles of works (cardinals). Generations run II to V.
_GIVEN_NAMES = (
    r"Aaron|Adam|Albert|Alfred|Allen|Andrew|Anthony|Arthur|Benjamin|Bill|Billy|Bob|Bobby"
    r"|Bruce|Carl|Charles|Christopher|Cornelius|Daniel|David|Davis|Dennis|Donald|Douglas"
    r"|Edward|Eric|Eugene|Francis|Frank|Fred|Frederick|Gary|George|Gerald|Gregory|Harold"
    r"|Harry|Henry|Howard|Hugh|Jack|Jacob|James|Jeffrey|Jerry|Jim|Joe|John|Jonathan"
    r"|Joseph|Kenneth|Larry|Lawrence|Louis|Mark|Martin|Matthew|Michael|Nathan|Nicholas"
    r"|Patrick|Paul|Peter|Philip|Ralph|Raymond|Richard|Robert|Roger|Ronald|Roy|Russell"
    r"|Samuel|Stephen|Steven|Theodore|Thomas|Thurston|Timothy|Walter|William|Willie"
)
_GIVEN_NAME_BEFORE = re.compile(rf"\b(?:{_GIVEN_NAMES})\s(?:[A-Z]\.\s)?$")
_LONGEST_GIVEN_NAME = 16
_GENERATIONS = range(2, 6)
# "George V. Voinovich": a letter, its period and a name is a middle initial.
_INITIAL_AFTER = re.compile(r"\.\s+[A-Z]")
# After a monarch's name or a title, "I" is the numeral only where the pronoun cannot
# be: before "'s", "of England", or closing punctuation. "Charles I was" needs both
# ("King Charles I was"): "told John I was", "told Prince Harry I was" are the pronoun.
_NOT_A_PRONOUN_AFTER = re.compile(r"['’]s\b|\s+of\s+[A-Z]|\s*(?:[.,;:!?)]|$)")
# Capitalised words that are not names: "The XX", "And II" are left alone.
NOT_NAMES = _words(
    "A An And As At But By For From He Her His I If In Is It Its My No Not Of On Or Our She So"
    " That The Their They This To Use We With You Your"
)


def value_of(numeral: str, largest: int = _LARGEST) -> int | None:
    """ "XIV" -> 14; None unless ``numeral`` is a well-formed numeral up to ``largest``."""
    total = 0
    for letter, following in zip(numeral, numeral[1:] + " ", strict=True):
        value = _VALUES[letter]
        total += -value if _VALUES.get(following, 0) > value else value
    if not 1 <= total <= largest or _written(total) != numeral:
        return None
    return total


def _written(value: int) -> str:
    letters = ""
    for size, written in _WRITTEN_VALUES:
        count, value = divmod(value, size)
        letters += written * count
    return letters


def _counted(match: re.Match[str]) -> str:
    value = value_of(match["numeral"])
    if value is None or (value == 1 and match["before"][0].islower()):
        return match[0]  # "the war I fought": the pronoun, unless it is "World War I"
    return match["before"] + say.cardinal(value)


def _numbered_high(match: re.Match[str]) -> str:
    numeral = match["numeral"]
    # Below 400 outside a Super Bowl: "Book MIX tapes", "Volume DIV" (helper-101).
    value = value_of(numeral, largest=3999 if match["bowl"] else 399)
    if value is None or value <= _LARGEST or not (match["bowl"] or set(numeral) & set("IVX")):
        return match[0]
    return match["before"] + say.cardinal(value)


def _titled(match: re.Match[str]) -> bool:
    end = match.start("numeral")
    return _TITLE_BEFORE.search(match.string, max(0, end - _LONGEST_TITLED_NAME), end) is not None


def _generational(match: re.Match[str], value: int) -> bool:
    start = match.start("name")
    before = _GIVEN_NAME_BEFORE.search(match.string, max(0, start - _LONGEST_GIVEN_NAME), start)
    return value in _GENERATIONS and before is not None


def _regnal(match: re.Match[str], value: int) -> str:
    return f"{match['before']}the {say.ordinal(value).capitalize()}"


def _after_name(match: re.Match[str]) -> str:
    value = value_of(match["numeral"])
    if value is None or match["name"] in NOT_NAMES or match["numeral"] == "XXX":
        return match[0]
    if match["name"] in _REGNAL_NAMES or _titled(match) or _generational(match, value):
        return _regnal(match, value)
    return match["before"] + say.cardinal(value)  # "Rocky II", "Final Fantasy VII"


def _one_letter_after_name(match: re.Match[str]) -> str:
    text, end = match.string, match.end()
    titled, regnal = _titled(match), match["name"] in _REGNAL_NAMES
    if not (titled or regnal):
        return match[0]  # "Model X", "Malcolm X"
    if not titled and _INITIAL_AFTER.match(text, end):
        return match[0]  # "George V. Voinovich"
    pronoun_may_follow = not (titled and regnal) and not _NOT_A_PRONOUN_AFTER.match(text, end)
    if match["numeral"] == "I" and pronoun_may_follow:
        return match[0]  # "told John I was", "told Prince Harry I was"
    return _regnal(match, _VALUES[match["numeral"]])


def roman_numerals(text: str) -> str:
    """Chapter IV -> "Chapter four", Super Bowl LVIII -> "fifty-eight", Henry VIII ->
    "Henry the Eighth", Rocky II -> "two", Henry V -> "Henry the Fifth"."""
    text = _AFTER_COUNTED.sub(_counted, text)
    text = _NUMBERED_HIGH.sub(_numbered_high, text)
    text = _AFTER_NAME.sub(_after_name, text)
    return _ONE_LETTER_AFTER_NAME.sub(_one_letter_after_name, text)
