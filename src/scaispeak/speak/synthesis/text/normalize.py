"""English (en-US) text normalisation: written forms -> what a speaker would say.

The neural voices read letters through espeak, which mangles "$42.50", "3rd" or
"https://...". ``normalize_text`` runs a fixed list of small rules, in the order given by
``RULES``; the comment beside each entry says why it sits there. The rules keep the
punctuation that carries prosody (. , ? ! ; :) and drop abbreviation periods unless the
abbreviation also ends the sentence, so segmentation still works on the output.
Paragraph breaks (blank lines) survive; every other whitespace run becomes one space.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from scaispeak.speak.synthesis.text import date_rules as dates
from scaispeak.speak.synthesis.text import numeric_rules as num
from scaispeak.speak.synthesis.text.boundaries import keeps_final_period

Rule = Callable[[str], str]

_MARKUP = re.compile(r"`+|\*\*|__|^[^\S\n]*(?:#{1,6}|[*•-])[^\S\n]+", re.MULTILINE)


def markup(text: str) -> str:
    """Drop Markdown that LLMs emit (`code`, **bold**, # headings, bullets)."""
    return _MARKUP.sub("", text)


# Both patterns may only start where a token starts (the lookbehinds) and never give back
# what a run took (possessive ++): otherwise a long dotted token with no "@" or TLD, such
# as "1.1.1.1..." in a 500,000-character job, is rescanned from every position (quadratic).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"']+"
    r"|(?<![\w.-])(?:[A-Za-z0-9-]++\.)+(?:com|org|net|edu|gov|io|dev|ai|app|info|co|uk|de)\b"
    r"(?:/[^\s<>\"']*)?"
)
_URL_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?", re.IGNORECASE)
_URL_TRAILING = re.compile(r"[.,;:!?)\]'\"]+$")
_ADDRESS_SYMBOL = re.compile(r"[./:_+@-]")
_ADDRESS_WORDS = {
    ".": "dot",
    "/": "slash",
    ":": "colon",
    "_": "underscore",
    "+": "plus",
    "@": "at",
    "-": "dash",
}


def _speak_address(address: str) -> str:
    return _ADDRESS_SYMBOL.sub(lambda m: f" {_ADDRESS_WORDS[m[0]]} ", address)


def emails(text: str) -> str:
    """jane.doe@example.org -> "jane dot doe at example dot org"."""
    return _EMAIL.sub(lambda m: _speak_address(m[0]), text)


def _url(match: re.Match[str]) -> str:
    trailing = _URL_TRAILING.search(match[0])
    url = match[0][: trailing.start()] if trailing else match[0]
    body = re.split(r"[?#]", _URL_PREFIX.sub("", url), maxsplit=1)[0].rstrip("/")
    return _speak_address(body) + (trailing[0] if trailing else "")


def urls(text: str) -> str:
    """https://www.example.com/docs?q=1 -> "example dot com slash docs" (query dropped)."""
    return _URL.sub(_url, text)


_TITLES = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Dr": "Doctor",
    "Prof": "Professor",
    "Mt": "Mount",
    "Sgt": "Sergeant",
    "Capt": "Captain",
    "Rev": "Reverend",
}
_TITLE = re.compile(rf"\b(?P<abbr>{'|'.join(_TITLES)})(?:\.|(?=\s+[A-Z]))")
_SAINT_OR_STREET = re.compile(r"\bSt\.(?=(?P<gap>\s*)(?P<next>\S?))")
_MAYBE_FINAL = {
    "etc": "et cetera",
    "jr": "Junior",
    "sr": "Senior",
    "inc": "Incorporated",
    "ltd": "Limited",
    "corp": "Corporation",
    "approx": "approximately",
    "ave": "Avenue",
    "blvd": "Boulevard",
    "dept": "Department",
}
_MAYBE_FINAL_ABBREVIATION = re.compile(rf"\b(?P<abbr>{'|'.join(_MAYBE_FINAL)})\.", re.IGNORECASE)
_INLINE_ABBREVIATIONS = (
    (re.compile(r"\be\.g\.(?!\w)", re.IGNORECASE), "for example"),
    (re.compile(r"\bi\.e\.(?!\w)", re.IGNORECASE), "that is"),
    (re.compile(r"\bvs\.?(?=\s)|\bv\.(?=\s)"), "versus"),
    (re.compile(r"\bcf\.(?=\s)"), "compare"),
    (re.compile(r"\b[Nn]o\.\s?(?=\d)"), "number "),
    (re.compile(r"\b[Ff]ig\.\s?(?=\d)"), "figure "),
)


def _saint_or_street(match: re.Match[str]) -> str:
    if match["next"][:1].isupper() and "\n" not in match["gap"]:
        return "Saint"
    return "Street." if keeps_final_period(match.string, match.end()) else "Street"


def abbreviations(text: str) -> str:
    """Mr., Dr., St. (Saint before a capitalised name, else Street), etc., e.g., vs., No. 5.

    Titles never end a sentence; etc./Jr./Inc. keep their period when they do.
    """
    text = _TITLE.sub(lambda m: _TITLES[m["abbr"]], text)
    text = _SAINT_OR_STREET.sub(_saint_or_street, text)
    text = _MAYBE_FINAL_ABBREVIATION.sub(
        lambda m: (
            _MAYBE_FINAL[m["abbr"].lower()] + ("." if keeps_final_period(m.string, m.end()) else "")
        ),
        text,
    )
    for pattern, words in _INLINE_ABBREVIATIONS:
        text = pattern.sub(words, text)
    return text


_DOTTED_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")


def _acronym(match: re.Match[str]) -> str:
    rest = match.string[match.end() :]
    # Only a period before a line break or the end is kept: "U.S. Army" is more common
    # than a sentence ending in "U.S.", and the segmenter makes the same call.
    ends_text = not rest.strip() or rest[: len(rest) - len(rest.lstrip())].count("\n") > 0
    return " ".join(match[0].replace(".", "").upper()) + ("." if ends_text else "")


def acronyms(text: str) -> str:
    """U.S.A. -> "U S A" (period kept only at the end of the text or line)."""
    return _DOTTED_ACRONYM.sub(_acronym, text)


_SYMBOLS = (
    (re.compile(r"(?<=\d)\s*[*×]\s*(?=\d)"), " times "),
    (re.compile(r"\*"), ""),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"\s*=\s*"), " equals "),
    (re.compile(r"\s*\+\s*"), " plus "),
    (re.compile(r"\s*@\s*"), " at "),
    (re.compile(r"#(?=\d)"), "number "),
    (re.compile(r"~(?=\s?\d)"), "about "),
    (re.compile(r"\s*°"), " degrees"),
)


def symbols(text: str) -> str:
    """&, =, +, @, #5, ~5, ° and arithmetic * or × -> words; stray * (emphasis) removed."""
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    return text


_PARAGRAPH_BREAK = re.compile(r"\s*\n[^\S\n]*\n\s*")
_WHITESPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+(?=[.,?!;:])")
_REPEATED_COMMA = re.compile(r",(?:\s*,)+")


def whitespace(text: str) -> str:
    """Collapse whitespace to one space, keep blank-line paragraph breaks, tidy punctuation."""
    paragraphs = (_WHITESPACE.sub(" ", part).strip() for part in _PARAGRAPH_BREAK.split(text))
    text = "\n\n".join(part for part in paragraphs if part)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    return _REPEATED_COMMA.sub(",", text)


RULES: tuple[Rule, ...] = (
    markup,  # first: Markdown symbols must not be spoken or confuse later patterns
    emails,  # before urls (the domain would be taken as a bare URL) and symbols (@)
    urls,  # before anything that reads dots, slashes, digits or symbols
    num.phone_numbers,  # before dates and ranges, which would read "555-1234" as a range
    dates.dates,  # before ranges ("2024-03-05"), fractions ("3/5"), ordinals ("3rd"), years
    num.ranges,  # after phones/dates own their dashes; before times, negatives and money
    dates.times,  # after ranges ("9:00-17:00"); before abbreviations/acronyms take "a.m."
    abbreviations,  # before acronyms (e.g., i.e.) and numbers ("No. 5" -> "number 5")
    acronyms,  # after abbreviations so "e.g." is not read as "E G"
    num.negative_numbers,  # after ranges ("5-10"); before money ("-$5")
    num.money,  # before units, percent, years and cardinals ("$3.5 million")
    num.units_and_percent,  # after money; needs the literal "1" for singular units
    dates.years,  # after dates and money own their four-digit numbers; before cardinals
    num.ordinals_and_fractions,  # after dates ("March 3rd"); before cardinals
    symbols,  # after emails/urls/units consumed their @ & °; before cardinals ("#5")
    num.cardinal_numbers,  # last number rule: any digits left are plain quantities
    whitespace,  # last: rules above add and remove spaces freely
)


def normalize_text(text: str) -> str:
    """Rewrite ``text`` (English, en-US) into the words a speaker would say."""
    for rule in RULES:
        text = rule(text)
    return text
