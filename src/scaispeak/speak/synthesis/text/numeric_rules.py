"""Rewrite rules for written numbers: ranges, ordinals, fractions, numbers (identifiers
are in ``identifier_rules.py``, units in ``unit_rules.py``).

Each rule is a ``str -> str`` function built on a regex compiled once at import. The order
in which they run is decided (and explained) in ``normalize.py``; the docstring of each
rule says what it must run before or after.
"""

from __future__ import annotations

import math
import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

# An integer, with or without thousands separators, grouped as the West writes them
# ("100,000") or as India does, in lakhs and crores ("1,00,000", "12,34,56,789").
# The Indian form is tried only where a run of digits and commas starts, and its groups
# are taken whole (possessively), so a long run of two-digit groups is read in one pass.
INTEGER = r"(?<![\d,])\d{1,2}(?:,\d{2}(?!\d))++,\d{3}(?!,?\d)|\d{1,3}(?:,\d{3})+|\d+"
SCALES = {
    "k": "thousand",
    "m": "million",
    "mn": "million",
    "b": "billion",
    "bn": "billion",
    "tn": "trillion",
    "t": "trillion",  # "$1.2T": money takes only a capital T
}
YEAR_DIGITS = re.compile(r"1[1-9]\d\d|20\d\d")  # 1100 to 2099
# The letters before "$" that name another country's dollar: "CA$5", "A$5", "AUD$5".
DOLLAR_COUNTRY = "AUD|CAD|NZD|HKD|SGD|CA|AU|NZ|HK|SG|NT|C|A|S"


# Thousands grouped by dots, as much of Europe writes them ("1.000.000", "2.500.000,50"):
# two groups or more, which no decimal or version is written with. Four groups that
# could each be a byte ("10.100.100.100") are an IP address, read dot by dot later.
_DOTTED_THOUSANDS = re.compile(
    r"(?<![\w.,])(?P<int>\d{1,3}(?:\.\d{3}){2,})(?:,(?P<frac>\d{1,2}))?(?!\w|[.,]\d)"
)


def _is_an_address(groups: list[str]) -> bool:
    leading_zero = any(len(group) > 1 and group.startswith("0") for group in groups)
    return len(groups) == 4 and not leading_zero and all(int(group) <= 255 for group in groups)


_VERSION_BEFORE = re.compile(r"\b(?i:v|ver\.?|version|release|build)\s?$")


def _dotted_thousands(match: re.Match[str]) -> str:
    groups = match["int"].split(".")
    if _is_an_address(groups):
        return match[0]
    if _VERSION_BEFORE.search(match.string, max(0, match.start() - 10), match.start()):
        return match[0]  # "version 10.100.200"
    return ",".join(groups) + (f".{match['frac']}" if match["frac"] else "")


# Thousands grouped by spaces, as SI and most of Europe write them: "10 000", "1 000 000",
# and any groups after a no-break or thin space ("10\u202f500"). With plain spaces only
# where a group starts with 0, which a number of its own never does: "5 100" may be two.
# Each group is exactly three digits and the run is taken whole, never given back
# (possessive): rescanning a long run of groups from each start was quadratic.
_SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u2009\u202f]\d{3}(?!\d))++")


def _spaced_thousands(match: re.Match[str]) -> str:
    written = match[0]
    if (
        match.string.startswith(",", match.end())
        and match.string[match.end() + 1 : match.end() + 2].isdigit()
    ):
        return written  # "10 000,5": a decimal comma, not ours to read
    groups = re.split(r"\s", written)
    thin = any(ch in "\u00a0\u2009\u202f" for ch in written)
    if not thin and not any(group.startswith("0") for group in groups[1:]):
        return written
    return ",".join(groups)


def dotted_thousands(text: str) -> str:
    """1.000.000 -> "1,000,000", 2.500.000,50 -> "2,500,000.50"; "10.100.100.100" stays;
    "10 000" -> "10,000".

    Runs before dates, ranges and money, which read digits grouped by commas.
    """
    text = _SPACED_THOUSANDS.sub(_spaced_thousands, text)
    return _DOTTED_THOUSANDS.sub(_dotted_thousands, text)


_RANGE_END = r"\d{1,2}:\d{2}|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_RANGE_SYMBOL = rf"(?:(?:US|{DOLLAR_COUNTRY})(?=\$))?[{CURRENCY_SIGNS}]?"  # "$5-10", "CA$5-10"
_RANGE = re.compile(
    rf"(?<![\w.,:/^-])(?P<s1>{_RANGE_SYMBOL})(?P<a>{_RANGE_END})\s?[-–]\s?"  # not "x^2 - 4"
    rf"(?P<s2>{_RANGE_SYMBOL})(?P<b>{_RANGE_END})(?![\d:-]|[.,]\d)"
)
# "works 9-5", "open 9-5", "Monday to Friday 9-5", "a 9-5 job", "9-5pm": the hours of a
# working day, said "nine to five" though the second number is the smaller. Elsewhere a
# falling pair is a score ("won 9-5", "a 9-5 win") or a subtraction, so only clock hours
# (1 to 12) next to a word about work or opening times, or before am/pm.
_WORKING_HOURS_BEFORE = re.compile(
    r"\b(?i:works?|worked|working|open|opens|opened|hours|staffed|shifts?|daily|weekdays"
    r"|monday|tuesday|wednesday|thursday|friday|saturday|sunday):?\s$"
)
_MERIDIEM = r"\s?(?i:[ap]\.?m)\b"
_WORKING_HOURS_AFTER = re.compile(
    rf"{_MERIDIEM}|\s(?i:jobs?|shifts?|workdays?|schedules?|hours|gigs?|grind)\b"
)
# "9.30-11.30am": British clock times, written with a colon for the time rule.
_DOTTED_CLOCK = re.compile(r"(?:1[0-2]|0?[1-9])\.[0-5]\d")
_MERIDIEM_AFTER = re.compile(_MERIDIEM)


_SCORE_WORDS = re.compile(
    r"\b(?i:won|wins?|lost|lose|loses|beat|beats|defeated|drew|draw|tied|scored?|scores"
    r"|final|result|led|leads?|trail(?:s|ed)?|victory|record|votes?|voted|passed|failed)\b"
)


def _after_a_score_word(text: str, start: int) -> bool:
    """ "won 110 - 98": a word on the line before gives a score."""
    line_start = max(text.rfind("\n", 0, start) + 1, start - 40)
    return _SCORE_WORDS.search(text, line_start, start) is not None


# Unspaced ("won 3-2", "The vote was 218-214"), only right after the word: "The bill
# passed on 12-10" is a date, "final exam is in room 12-3" a room (helper-101).
# Up to three words between ("beat the Heat 110-98"), none placing it ("on", "in room").
_SCORE_JUST_BEFORE = re.compile(
    rf"{_SCORE_WORDS.pattern}:?\s(?:(?!(?i:on|in|at|room|since|from|until|to)\b)[\w'.]+\s){{0,3}}$"
)


def _just_after_a_score_word(text: str, start: int) -> bool:
    return _SCORE_JUST_BEFORE.search(text, max(0, start - 50), start) is not None


def _working_hours(match: re.Match[str]) -> bool:
    text, start = match.string, match.start()
    if not all(part.isdigit() and 1 <= int(part) <= 12 for part in (match["a"], match["b"])):
        return False
    if _WORKING_HOURS_AFTER.match(text, match.end()):
        return True
    return _WORKING_HOURS_BEFORE.search(text, max(0, start - 12), start) is not None


# A scale after a money range's second amount ("$80-100k", "$1-2 billion") is the
# first's too: "$80k to $100k", not "eighty dollars to one hundred thousand dollars".
_SCALE_LETTERS = "|".join(sorted(SCALES, key=len, reverse=True))
_SCALE_AFTER = re.compile(rf"(?:(?i:{_SCALE_LETTERS})|\s(?:thousand|million|billion|trillion))\b")


_EQUALS_AFTER = re.compile(r"\s?=\s?(?P<result>[-−]?\d+(?:\.\d+)?(?![\d.]))?")


def _is_a_difference(low: float, high: float, result: str | None) -> bool:
    """ "5-3 = 2", "3-5=-2": before "=", a pair is a subtraction when it falls or when
    the difference is what follows; "ages 3-5 = $10" stays a range."""
    if low >= high:
        return True
    return result is not None and math.isclose(low - high, float(result.replace("−", "-")))


def _range(match: re.Match[str]) -> str:
    first, second = match["a"], match["b"]
    symbol = match["s1"] or match["s2"]
    if symbol:
        scale = _SCALE_AFTER.match(match.string, match.end())
        shared = scale.group() if scale else ""
        return f"{symbol}{first}{shared} to {symbol}{second}"
    if ":" in first + second:
        return f"{first} to {second}"
    if _MERIDIEM_AFTER.match(match.string, match.end()) and all(
        _DOTTED_CLOCK.fullmatch(part) for part in (first, second)
    ):
        return f"{first.replace('.', ':')} to {second.replace('.', ':')}"
    low, high = float(first.replace(",", "")), float(second.replace(",", ""))
    equals = _EQUALS_AFTER.match(match.string, match.end())
    if equals and _is_a_difference(low, high, equals["result"]):
        return match.group()  # "3-5=-2": a sum, the subtraction rule's
    if low >= high:  # "10 - 5" is a subtraction, "3-2" a score: not a range
        said_to = _working_hours(match) or _just_after_a_score_word(match.string, match.start())
        return f"{first} to {second}" if said_to else match.group()
    if all(YEAR_DIGITS.fullmatch(part) for part in (first, second)):  # not "1.25-2.50"
        return f"{say.year(int(first))} to {say.year(int(second))}"
    return f"{first} to {second}"


# "$80k-100k", "10k-20k steps", "$1M to 2M": both ends scaled alike; a range of
# thousands (a lone "10k" stays "ten K": "a 10K run").
_SCALED_RANGE = re.compile(
    rf"(?<![\w.,:/-])(?P<s1>{_RANGE_SYMBOL})(?P<a>\d{{1,3}}(?:\.\d+)?)(?P<k>[kKMB]|bn|mn)"
    rf"(?:\s?[-–]\s?|\s+to\s+)(?P<s2>{_RANGE_SYMBOL})(?P<b>\d{{1,3}}(?:\.\d+)?)(?P=k)\b"
)


def _scaled_range(match: re.Match[str]) -> str:
    symbol, scale = match["s1"] or match["s2"], match["k"]
    if symbol:  # money reads "$80k" with its scale
        return f"{symbol}{match['a']}{scale} to {symbol}{match['b']}{scale}"
    words = SCALES[scale.lower()]
    return f"{match['a']} {words} to {match['b']} {words}"


def ranges(text: str) -> str:
    """5-10 -> "5 to 10", $5-10 -> "$5 to $10", 1990-1995 -> years, $80k-100k -> "$80k
    to $100k"; digits stay for later rules.

    Runs after phone numbers and dates (which own their dashes) and before negative numbers.
    """
    text = _SCALED_RANGE.sub(_scaled_range, text)
    return _RANGE.sub(_range, text)


# An en dash is written for a minus too ("fell –1.2%"; helper-96): a range's has a
# figure before it, and ranges are read before this.
_NEGATIVE = re.compile(rf"(?<![^\s(\[=:])[-−–](?=[{CURRENCY_SIGNS}]?\.?\d)")
# An accountant's negative: "a net loss of $(1,234)", "€(5.2)".
_BRACKETED_LOSS = re.compile(r"(?<![\w)])(?P<sym>[$€£¥₹])\((?P<amount>\d[\d,]*(?:\.\d+)?)\)")
_SPACED_DASH = re.compile(rf"(?<=\d)\s[-−]\s(?=[{CURRENCY_SIGNS}]?\d)")
_SUBTRACTION = re.compile(r"(?<=\d)[-−](?=\d+(?:\.\d+)?\s?=)")  # "5-3=2"
_ARITHMETIC = "0123456789 .,()+-−*×÷^="
_OPERATORS = re.compile("[=+*×÷^]")
_NAME_BEFORE = re.compile(r"\b[A-Z][a-z]+\s?$")
_NAME_AFTER = re.compile(r"\s?[A-Z][a-z]")


def _minus_or_to(match: re.Match[str]) -> str:
    """A spaced dash between numbers is a minus ("What is 12 - 7?", "10 - 5 = 5"),
    except in a score: after a word that gives one ("won 110 - 98", "Score: 3 - 3") or
    between two names ("Arsenal 2 - 1 Chelsea"), where "minus" was read (helper-96)."""
    text, start, end = match.string, match.start(), match.end()
    while start > max(0, match.start() - 80) and text[start - 1] in _ARITHMETIC:
        start -= 1
    while end < min(len(text), match.end() + 80) and text[end] in _ARITHMETIC:
        end += 1
    if _OPERATORS.search(text, start, end):
        return " minus "
    between_names = _NAME_BEFORE.search(text, max(0, start - 30), start) and _NAME_AFTER.match(
        text, end
    )
    if _after_a_score_word(text, start) or between_names:
        return " to "
    return " minus "


def negative_numbers(text: str) -> str:
    """-5 -> "minus 5", "10 - 5 = 5" -> "10 minus 5 = 5", "won 110 - 98" -> "won 110
    to 98"; "COVID-19" is left alone.

    Runs after ranges (which consume "5-10") and before money ("-$5").
    """
    text = _BRACKETED_LOSS.sub(r"-\g<sym>\g<amount>", text)
    text = _SPACED_DASH.sub(_minus_or_to, text)
    text = _SUBTRACTION.sub(" minus ", text)
    return _NEGATIVE.sub("minus ", text)


_SAID_AS_A_WHOLE = {"24/7": "twenty-four seven", "50/50": "fifty-fifty", "9/11": "nine eleven"}
_IDIOM = re.compile(r"(?<![\w/.,])(?:24/7|50/50|9/11)(?![\w/]|[.,]\d)")
_PER_UNITS = {"mo": "month", "yr": "year", "wk": "week", "hr": "hour", "h": "hour"}
_PER_UNITS |= {"min": "minute", "sec": "second", "ea": "each"}
_PER = re.compile(
    r"(?<=[\w%])\s?/\s?(?P<unit>month|mo|year|yr|week|wk|day|night|hour|hr|h|minute|min"
    r"|second|sec|person|user|seat|license|unit|item|piece|page|word|head|ea)\b"
)
# A rating: before "stars" or "points", or 2 to 10 out of 10 ending a clause or before
# "would" ("a solid 8/10.", "9/10 would recommend"); "9/10 of them" and "1/10." are fractions.
_RATING = re.compile(
    r"(?<![\w/.,])(?P<n>\d{1,3}(?:\.\d)?)/(?P<d>5|10|100)(?=\s(?:stars?|points?|rating|overall)\b"
    r"|(?:(?<=[2-9]/10)|(?<=10/10))(?:\s+would\b|[.!?,;:)]+(?:\s|$)|$))"
)
_RATING_CONTEXT = re.compile(
    r"(?P<before>\b(?i:rated|ratings?|scored|score|gives?\s+it|gave\s+it|gets|got):?\s(?:of\s|an?\s)?)"
    r"(?P<n>\d{1,3}(?:\.\d)?)/(?P<d>5|10|100)\b"
)


def _per(match: re.Match[str]) -> str:
    return " per " + _PER_UNITS.get(match["unit"], match["unit"])


def slashes(text: str) -> str:
    """$20/month -> "per month", 4/5 stars -> "four out of five", 24/7, 50/50, 9/11.

    Runs after money and units (which own "km/h") and before fractions ("4/5").
    """
    text = _IDIOM.sub(lambda m: _SAID_AS_A_WHOLE[m[0]], text)
    text = _PER.sub(_per, text)
    text = _RATING_CONTEXT.sub(lambda m: f"{m['before']}{m['n']} out of {m['d']}", text)
    return _RATING.sub(lambda m: f"{m['n']} out of {m['d']}", text)


# Not from inside a number: a long run of digit groups was rescanned from each digit.
_ORDINAL = re.compile(rf"(?<![\d,])\b(?P<n>{INTEGER})(?:st|nd|rd|th|ST|ND|RD|TH)\b")
# Halves to tenths, and the finer parts measures are cut in: twelfths, sixteenths,
# thirty-seconds, sixty-fourths, hundredths ("1/16 inch", "3/32 drill bit").
_DENOMINATOR = r"(?P<d>100|64|32|16|12|10|[2-9])"
_FRACTION = re.compile(rf"(?<![\w/.,])(?P<n>[1-9]\d?)/{_DENOMINATOR}(?![\w/]|[.,]\d)")
_MIXED_NUMBER = re.compile(
    rf"(?<![\w/.,])(?P<whole>\d{{1,3}})\s(?P<n>[1-9]\d?)/{_DENOMINATOR}(?![\w/]|[.,]\d)"
)


def _is_fraction(numerator: int, denominator: int) -> bool:
    """Less than one; past tenths only in lowest terms, as measures are written: "12/16"
    is more likely a date or a score than twelve sixteenths."""
    if numerator >= denominator:
        return False
    return denominator <= 10 or math.gcd(numerator, denominator) == 1


def _fraction(match: re.Match[str]) -> str:
    numerator, denominator = int(match["n"]), int(match["d"])
    if not _is_fraction(numerator, denominator):
        return match[0]
    return say.fraction(numerator, denominator)


def _mixed_number(match: re.Match[str]) -> str:
    numerator, denominator = int(match["n"]), int(match["d"])
    if not _is_fraction(numerator, denominator):
        return match[0]
    part = say.fraction(numerator, denominator)
    if numerator == 1:  # "one and a half", not "one and one half"
        part = "a " + part.split(" ", 1)[1]
    return f"{say.cardinal(int(match['whole']))} and {part}"


def ordinals_and_fractions(text: str) -> str:
    """21st -> "twenty-first", 3/4 -> "three quarters", 1 1/2 -> "one and a half",
    1/16 -> "one sixteenth".

    Runs after dates ("March 3rd", "3/5/2024") and before cardinals.
    """
    text = _ORDINAL.sub(lambda m: say.ordinal_text(m["n"]), text)
    text = _MIXED_NUMBER.sub(_mixed_number, text)
    return _FRACTION.sub(_fraction, text)


_DOTTED_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d)")
_VERSION_V = re.compile(r"(?<![\w.])[vV](?=\d+(?:\.\d+)+(?!\d))")  # "v2.3.1", "v18.17.0"
# "Python 3.11", "version 2.10", "v2.10": a release, its minor part a number of its own
# ("three point eleven"), where 3.11 alone is a decimal ("three point one one").
_TWO_PART_VERSION = re.compile(
    r"(?<![\w.])(?P<name>(?:(?i:version)|Python|Node(?:\.js)?|Java|iOS|Android|PHP|Ruby|Perl"
    r"|Rust|Kotlin|Swift|TypeScript|macOS|Ubuntu|Debian)\s+|[vV])"
    r"(?P<major>\d{1,3})\.(?P<minor>\d{1,3})"
    r"(?!\d|\.\d)"
)
_BARE_DECIMAL = re.compile(r"(?<![\w.,])\.(?P<frac>\d+)\b")
_NUMBER = re.compile(rf"(?P<int>{INTEGER})(?:\.(?P<frac>\d+))?")


def _number(match: re.Match[str]) -> str:
    integer, fraction = match["int"], match["frac"] or ""
    plain = integer.isdigit()
    if plain and len(integer) > 1 and (integer.startswith("0") or len(integer) >= 10):
        words = say.digits(integer)  # "007", zip codes, IDs
        if fraction:
            words += " point " + say.digits(fraction)
    else:
        words = say.decimal(integer, fraction)
    before = match.string[match.start() - 1 : match.start()]
    after = match.string[match.end() : match.end() + 1]
    return (" " if before.isalpha() else "") + words + (" " if after.isalpha() else "")


def _two_part_version(match: re.Match[str]) -> str:
    name = match["name"].strip()
    name = "version" if name in ("v", "V") else name
    minor = say.cardinal(int(match["minor"]))
    if match["minor"].startswith("0") and len(match["minor"]) > 1:
        minor = "oh " + minor  # "Ubuntu 22.04": "twenty-two point oh four"
    return f"{name} {say.cardinal(int(match['major']))} point {minor}"


def cardinal_numbers(text: str) -> str:
    """1,250 -> "one thousand two hundred fifty", 3.14, .5, 1.2.3 (versions, IPs), MP3,
    v2.3.1 -> "version two dot three dot one".

    Runs last among the number rules: whatever digits are left are plain quantities.
    """
    text = _TWO_PART_VERSION.sub(_two_part_version, text)
    text = _VERSION_V.sub("version ", text)
    text = _DOTTED_NUMBER.sub(
        lambda m: " dot ".join(say.cardinal_text(part) for part in m.group().split(".")), text
    )
    text = _BARE_DECIMAL.sub(lambda m: "point " + say.digits(m["frac"]), text)
    return _NUMBER.sub(_number, text)
