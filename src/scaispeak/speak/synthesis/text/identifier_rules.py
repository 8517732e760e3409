"""Numbers that name something rather than count it, read digit by digit: "ZIP 90210",
"card ending in 4242", "order #12345", "code is 482 913", "4111 1111 1111 1111".

A rule of ``normalize.py``'s order: after phone numbers, before dates and ranges.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.numeric_rules import YEAR_DIGITS

# Words after which a number names something rather than counting it, so it is read
# digit by digit ("ZIP 90210", "card ending in 4242", "order #12345", "PIN 1234"). The
# weak words are also verbs or counts ("order 500 units", "case 2"): only with a marker
# ("#", "number", "no.", ":") or five digits or more.
_NAMING_WORDS = (
    r"zip(?:\s?code)?|post(?:al)?\s?code|pin(?:\s?code)?|acct\.?|ref\.?|id"
    r"|otp|passcode|one[-\s]time\s(?:code|password|passcode|pin)|(?:your|my)\scode"
    r"|card\s(?:number|no\.)"  # not "Gift card: 500 dollars"
    r"|(?:promo|verification|security|confirmation|tracking|reference|routing|access|login)"
    r"(?:\s(?:number|no\.|code|id))?"
    r"|ending(?:\s(?:in|with))?|last\s(?:four|4)(?:\sdigits)?(?:\s(?:are|of))?"
)
_WEAK_NAMING_WORDS = r"order|invoice|ticket|account|serial|policy|member|customer|case"
_MARKER = r"(?:#|:|(?i:no\.|number|id))"
_IDENTIFIER = re.compile(
    rf"\b(?P<ctx>(?i:{_NAMING_WORDS})\s?(?:{_MARKER}|(?i:is))?\s?"
    # "order 12345", "order #123", "order number is 123" (not "the order was 300")
    rf"|(?i:{_WEAK_NAMING_WORDS})\s?(?:{_MARKER}\s?(?:(?i:is|was)\s)?(?=\d{{3}})|(?=\d{{5}})))"
    # Groups split by dashes or, of three or four digits, spaces ("code is 482 913",
    # "account number 4001 2345 6789" were read as quantities, helper-96), unless what
    # follows counts the last ("order 1234 100 units").
    r"(?P<id>\d{3,4}(?:[ ]\d{3,4})+(?![\w,.]\d|\w|\s+[a-z]+s\b)|\d{3,}(?:-\d{2,})*)"
    r"(?![\w,.]\d|\w)"
)
_COUNTED_NEXT = re.compile(r"\s+(?:[a-z]+s|people)\b")
# Four groups of four digits or more, as cards and accounts are written ("4111 1111 1111
# 1111"), unless they are years ("2019 2020 2021 2022").
_GROUPED_DIGITS = re.compile(r"(?<![\w.,])\d{4}(?:[ ]\d{4}){3,}(?![\w]|[.,]\d)")
# A US state's postal abbreviation before five digits: "Springfield, IL 62704-1234"
# (not any two capitals: "US 10000", "TV 12000 viewers" count).
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE"
    "|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|PR|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_STATE_ZIP = re.compile(rf"(?<=\b(?:{_STATES})\s)(?P<id>\d{{5}}(?:-\d{{4}})?)\b(?![.,]\d)")


# A house number before a street, said in pairs as Americans say it: "1600 Pennsylvania
# Ave" is "sixteen hundred", "405 Main St" "four oh five" (helper-96).
STREET_TYPES = (
    r"St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Way|Pl|Place|Ct|Court"
    r"|Pkwy|Parkway|Hwy|Highway|Sq|Square"
)
"""A street's type, written whole or short, for a regex alternation (normalize.py's
compass points before a street go by it too)."""
_HOUSE_NUMBER = re.compile(
    r"(?<![\w.,$#/-])(?P<n>[1-9]\d{2,3})(?= (?:[NSEW]\.? |(?:North|South|East|West) )?"
    rf"(?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th))\.? ){{1,3}}(?:{STREET_TYPES}|Ter|Terrace)\b)"
)
_WRITTEN_MARKERS = re.compile(r"#|\b(?i:no|ref|acct)\.")
_SPOKEN_MARKERS = {"#": "number ", "no.": "number", "ref.": "reference", "acct.": "account"}
# "fiscal year ending in 2026", "the quarter ending 2026": after a span of time, what
# ends is a year, left to the year rule ("card ending in 1999" is still a card's digits).
_SPAN_OF_TIME_BEFORE = re.compile(r"\b(?i:year|fy|quarter|period|season|term|semester|month)s?\s$")


def _year_ending(match: re.Match[str]) -> bool:
    text, start = match.string, match.start()
    return (
        (match.groupdict().get("ctx") or "").lower().startswith("ending")
        and YEAR_DIGITS.fullmatch(match["id"]) is not None
        and _SPAN_OF_TIME_BEFORE.search(text, max(0, start - 12), start) is not None
    )


def _identifier(match: re.Match[str]) -> str:
    if _year_ending(match):
        return match[0]
    spoken = ", ".join(say.digits(group) for group in re.split("[- ]", match["id"]))
    context = _WRITTEN_MARKERS.sub(
        lambda m: _SPOKEN_MARKERS[m[0].lower()], match.groupdict().get("ctx") or ""
    )
    return context + spoken


def identifiers(text: str) -> str:
    """ZIP 90210, "ending in 4242", order #12345, IL 62704 -> digit by digit.

    Runs after phone numbers and before dates and ranges ("62704-1234" is not a range).
    """
    text = _IDENTIFIER.sub(_identifier, text)
    text = _GROUPED_DIGITS.sub(_grouped_digits, text)
    return _STATE_ZIP.sub(_identifier, text)


def house_numbers(text: str) -> str:
    """ "1600 Pennsylvania Avenue" -> "sixteen hundred Pennsylvania Avenue". After the
    abbreviations, whose street types and compass points ("400 W. 59th St.") go by the
    house number's digits."""
    return _HOUSE_NUMBER.sub(_house_number, text)


# Not a count: "Over 250 Elm Street residents", "all 300 Main St. stores" (helper-102).
_COUNTED_BEFORE = re.compile(
    r"\b(?i:over|about|around|nearly|almost|some|than|all|the|of|approximately)\s$"
)


def _house_number(match: re.Match[str]) -> str:
    start = match.start()
    if _COUNTED_BEFORE.search(match.string, max(0, start - 16), start):
        return match[0]
    return say.model_number(int(match["n"]))


def _grouped_digits(match: re.Match[str]) -> str:
    """Not years, round figures ("sold 1000 2000 3000 4000"), or counts of what follows."""
    groups = match[0].split(" ")
    if all(YEAR_DIGITS.fullmatch(group) or group.endswith("00") for group in groups):
        return match[0]
    if _COUNTED_NEXT.match(match.string, match.end()):
        return match[0]
    return ", ".join(say.digits(group) for group in groups)
