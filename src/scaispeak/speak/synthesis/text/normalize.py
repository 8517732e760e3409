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
import unicodedata
from collections.abc import Callable

from scaispeak.speak.synthesis.text import date_rules as dates
from scaispeak.speak.synthesis.text import identifier_rules, latex_rules, symbol_rules, year_rules
from scaispeak.speak.synthesis.text import model_rules as models
from scaispeak.speak.synthesis.text import numeric_rules as num
from scaispeak.speak.synthesis.text import unit_rules as units
from scaispeak.speak.synthesis.text.boundaries import (
    keeps_final_period,
    name_suffix_goes_on,
)
from scaispeak.speak.synthesis.text.markdown_rules import markup
from scaispeak.speak.synthesis.text.money_rules import money
from scaispeak.speak.synthesis.text.phone_rules import phone_numbers
from scaispeak.speak.synthesis.text.ratio_rules import ratios
from scaispeak.speak.synthesis.text.roman_rules import roman_numerals
from scaispeak.speak.synthesis.text.scale_rules import scaled_numbers
from scaispeak.speak.synthesis.text.script_rules import compatibility_forms, foreign_scripts

Rule = Callable[[str], str]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")
# Zero-width space, word joiner, byte-order mark, soft hyphen: invisible, and inside a
# word or number ("1\u200b000", pasted from the web), where a space would split it.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u00ad]+")


def control_characters(text: str) -> str:
    """Control characters (a stray NUL in an LLM's tokens) as spaces: an engine given
    one failed the request ("embedded null character"), and a stream with it.
    Invisible joiners and breaks go without a trace."""
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text))


# Emoji and pictographic symbols, with their joiners, variation selectors and tags:
# espeak reads them by name ("slightly smiling face", "white heavy check mark").
_PICTOGRAPHS = re.compile(
    r"[\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
    r"\ufe0e\ufe0f\u200d\u20e3\U000e0020-\U000e007f]+"
)
# "I ❤️ NY", "I ❤️❤️ NY", "I 💙 NY"; not a broken heart (U+1F494).
_HEART = (
    "[\u2665\u2764\U0001f493\U0001f495-\U0001f49e\U0001f5a4\U0001f90d\U0001f90e"
    "\U0001f9e1\U0001fa75-\U0001fa77]\ufe0f?"
)
_HEART_AS_VERB = re.compile(rf"(?<=\w ){_HEART}(?:\s?{_HEART})*(?= \w)")
# An arrow between two things is "to": "A → B", "from $99 ➡️ $49" (dropped with the
# pictographs, the two prices ran together; helper-96).
_ARROWS = "[\u2192\u27f6\u27a1\u21d2\u21e8\u2b95]\ufe0f?"
_ARROW = re.compile(f"(?<=\\S)[^\\S\n]*{_ARROWS}[^\\S\n]*(?=[^\\s\ufe0f])")
# One that points ("Click ➡️ now", "Details → here") is no "to": it is dropped (helper-97).
_POINTING_ARROW = re.compile(  # not after a figure: "2019 → now" is "to"
    f"(?<!\\d)(?<!\\d ){_ARROWS}(?=[^\\S\n]*(?i:here|now|below|above|there|this link)\\b)"
)
# Music's accidentals sit in the pictograph range but are words: "C♯ minor", "B♭".
_ACCIDENTALS = re.compile(r"(?<=\b[A-G])([\u266f\u266d\u266e])")
_ACCIDENTAL_NAMES = {"\u266f": " sharp", "\u266d": " flat", "\u266e": " natural"}
# Check marks and crosses written as text mean yes and no in a list ("Backups ✓"), and are
# said; their emoji forms (✅, ❌) are decoration, dropped with the other pictographs.
_MARKS = re.compile("(?P<mark>[\u2713\u2714\u2717\u2718])(?![\ufe0f\u20e3])")
_MARK_NAMES = {"\u2713": "check", "\u2714": "check", "\u2717": "cross", "\u2718": "cross"}


def pictographs(text: str) -> str:
    """🙂, 👍🏽, 🇺🇸, ✅, ★ -> nothing (a space where they sat); "I ❤️ NY" -> "I love NY";
    a note's sharp, flat or natural sign ("C♯") -> its name; ✓ and ✗ -> "check", "cross"."""
    text = _HEART_AS_VERB.sub("love", text)
    text = _POINTING_ARROW.sub(" ", text)
    text = _ARROW.sub(" to ", text)
    text = _ACCIDENTALS.sub(lambda m: _ACCIDENTAL_NAMES[m[1]], text)
    text = _MARKS.sub(lambda m: f" {_MARK_NAMES[m['mark']]} ", text)
    return _PICTOGRAPHS.sub(" ", text)


# Latin letters espeak has no name for, spelled out as "letter one E C five": Vietnamese
# tone marks, "Đ", and almost all of Latin Extended-B: Romanian's "ș" and "ț", pinyin's
# "ǎ", "ǐ". Without their marks they are read as a name should be ("Nguyen"). The few
# with no plain letter inside ("ǂ", "ƿ"), the tone letters among the modifiers ("ˊ",
# "ˇ") and the few other Latin letters espeak names by code point (IPA's "ɣ", "ʘ",
# "ↀ") are left out (a second of "letter ..." each otherwise). The list is what
# tests/speak/synthesis/test_unnamed_letters.py found espeak names.
_UNNAMED_LETTERS = re.compile(
    r"[\u0110\u0111\u0131\u0149\u017f\u0180-\u024f\u1e00-\u1eff"
    r"\u02b9\u02ba\u02bd-\u02bf\u02c6-\u02cf\u02d1\u02e0\u02e4\u02ec\u02ee"
    r"\u0251\u025e\u0261\u0263\u0269\u0270\u0277\u0278\u028a\u0297\u0298\u029a\u02a9-\u02af"
    r"\u1de7-\u1df4\u2180-\u2188\u2e2f]"
)
_STROKED = {**dict(zip("ĐđıƀƒƚƵƶȻȼɆɇƗɑɡɩʊ", "DdibflZzCcEeIagiu", strict=True)), "ẞ": "SS"}


def _unmarked(letter: str) -> str:
    base = _STROKED.get(letter) or unicodedata.normalize("NFKD", letter)
    plain = "".join(ch for ch in base if ch.isascii() and ch.isalpha())
    small = letter.lower()  # "Əliyev": espeak reads its small form, IPA's "ə" (helper-97)
    if plain or not "\u0250" <= small <= "\u02af" or _UNNAMED_LETTERS.match(small):
        return plain
    return small


def unnamed_letters(text: str) -> str:
    """Nguyễn -> Nguyen, Đặng -> Dang, Brașov -> Brasov: marks dropped from letters
    espeak cannot name."""
    return _UNNAMED_LETTERS.sub(lambda m: _unmarked(m[0]), text)


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
# Also words ("Gen Z", "Col", "Rep"): only with their period and before a name.
_DOTTED_TITLES = {
    "Sen": "Senator",
    "Gov": "Governor",
    "Gen": "General",
    "Lt": "Lieutenant",
    "Col": "Colonel",
    "Maj": "Major",
    "Adm": "Admiral",
    "Cmdr": "Commander",
    "Rep": "Representative",
    "Pres": "President",
    "Hon": "Honorable",
    "Supt": "Superintendent",
    "Fr": "Father",
    "Ft": "Fort",  # "Ft. Worth", "Ft. Lauderdale"
}
_TITLE = re.compile(rf"\b(?P<abbr>{'|'.join(_TITLES)})(?:\.|(?=\s+[A-Z]))")
_DOTTED_TITLE = re.compile(rf"\b(?P<abbr>{'|'.join(_DOTTED_TITLES)})\.(?=\s+[A-Z])")
_SAINT_OR_STREET = re.compile(r"\bSt\.(?=(?P<gap>\s*)(?P<next>\S?))")
# A street's name: capitalised words (not acronyms such as "AM" or "CEO") after a house
# number or "on" ("42 Oak St.", "lives on Main St."), or after any lowercase word when no
# name follows ("near Elm Dr., then"): "Paris St. Germain", "CEO Dr. Lisa Su" are not.
_NAME_WORDS = r"(?:[A-Z][a-z][\w'-]*\s+){1,3}$"
_SURELY_A_STREET = re.compile(  # there, a numbered street too: "on 59th St", "400 W 5th Ave"
    r"(?:\d+[A-Za-z]?|\bon)\s+(?:(?:[A-Z][a-z][\w'-]*|\d+(?:st|nd|rd|th))\s+){1,3}$"
)
_MAYBE_A_STREET = re.compile(rf"\b[a-z]+,?\s+{_NAME_WORDS}")
_NAME_NEXT = re.compile(r"\s*[A-Z]")
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
    (re.compile(r"\bpp\.\s?(?=\d)"), "pages "),  # "see pp. 10-12", "p. 5" (helper-96)
    (re.compile(r"(?<![\w.])p\.\s?(?=\d)"), "page "),
    (re.compile(r"\bApt\.?\s?(?=\d|[A-Z]\b|#)"), "apartment "),  # not "was apt. 5 of"
    (re.compile(r"\b(?i:qty)\b(?:\.(?=\s?\d))?"), "quantity"),  # "Qty. 2": no sentence end
)
# The other street types ("12 Oak Rd", "on Maple Ln.", "Union Sq"), and "St", "Ave",
# "Dr" written without their period, only after a street's name: "Ct" and "Pl" are also
# written for other things. "Hwy" and "Pkwy" are nothing else ("Hwy 1").
_STREET_TYPES = {
    "Rd": "Road",
    "Ln": "Lane",
    "Ct": "Court",
    "Pl": "Place",
    "Sq": "Square",
    "Hwy": "Highway",
    "Pkwy": "Parkway",
    "Ave": "Avenue",
    "Blvd": "Boulevard",
    "St": "Street",
    "Dr": "Drive",
}
_STREET_TYPE = re.compile(rf"\b(?P<abbr>{'|'.join(_STREET_TYPES)})\b(?P<dot>\.)?")
# A compass point between a house number and the street: "400 W. 59th St.", "123 N Main
# St" ("W" was read "watts", helper-96).
_DIRECTION = re.compile(
    r"(?<=\d )(?P<point>[NSEW])\.?(?= (?:\d+(?:st|nd|rd|th)\b|[A-Z][a-z]+\.? "
    rf"(?:{identifier_rules.STREET_TYPES})\b))"
)
_DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}
# espeak reads "PhD" as its letters, "Ph.D." as "P H dot D".
_DOCTORATE = re.compile(r"\bPh\.?\s?D\b(?P<dot>\.)?")


def _follows_street_name(text: str, abbreviation: re.Match[str]) -> bool:
    """Whether the "St."/"Dr." of ``abbreviation`` ends a street's name."""
    before = text[max(0, abbreviation.start() - 60) : abbreviation.start()]
    if _SURELY_A_STREET.search(before):
        return True
    return _MAYBE_A_STREET.search(before) is not None and not _NAME_NEXT.match(
        text, abbreviation.end()
    )


def _title(match: re.Match[str]) -> str:
    if match["abbr"] == "Dr" and _follows_street_name(match.string, match):
        return "Drive." if match[0].endswith(".") and _period_ends(match) else "Drive"
    return _TITLES[match["abbr"]]


def _period_ends(match: re.Match[str]) -> bool:
    return keeps_final_period(match.string, match.end())


def _saint_or_street(match: re.Match[str]) -> str:
    street = _follows_street_name(match.string, match)
    if not street and match["next"][:1].isupper() and "\n" not in match["gap"]:
        return "Saint"
    return "Street." if _period_ends(match) else "Street"


def _street_type(match: re.Match[str]) -> str:
    if match["abbr"] not in ("Hwy", "Pkwy") and not _follows_street_name(match.string, match):
        return match[0]
    return _STREET_TYPES[match["abbr"]] + ("." if match["dot"] and _period_ends(match) else "")


def _maybe_final(match: re.Match[str]) -> str:
    abbreviation = match["abbr"].lower()
    ends = keeps_final_period(match.string, match.end())
    if name_suffix_goes_on(abbreviation, match.string, match.end()):
        ends = False  # "Martin Luther King Jr. Day"
    return _MAYBE_FINAL[abbreviation] + ("." if ends else "")


def abbreviations(text: str) -> str:
    """Mr., Dr., St. (Saint before a capitalised name unless after a street's name), etc.

    Also e.g., vs., No. 5, Sen., Ph.D., Qty; "Dr." after a street's name is "Drive", and
    "Rd", "Ln", "Ct"... are "Road", "Lane", "Court" there.

    Titles never end a sentence; etc./Jr./Inc. keep their period when they do.
    """
    text = _DIRECTION.sub(lambda m: _DIRECTIONS[m["point"]], text)
    text = _TITLE.sub(_title, text)
    text = _DOTTED_TITLE.sub(lambda m: _DOTTED_TITLES[m["abbr"]], text)
    text = _SAINT_OR_STREET.sub(_saint_or_street, text)
    text = _STREET_TYPE.sub(_street_type, text)
    text = _MAYBE_FINAL_ABBREVIATION.sub(_maybe_final, text)
    for pattern, words in _INLINE_ABBREVIATIONS:
        text = pattern.sub(words, text)
    return _DOCTORATE.sub(lambda m: "PhD" + ("." if m["dot"] and _period_ends(m) else ""), text)


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


_PARAGRAPH_BREAK = re.compile(r"(?<!\s)\s*\n[^\S\n]*\n\s*")  # (?<!\s): see symbol_rules._SYMBOLS
_WHITESPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<!\s)\s+(?=[.,?!;:])")
_REPEATED_COMMA = re.compile(r",(?:\s*,)+")


def whitespace(text: str) -> str:
    """Collapse whitespace to one space, keep blank-line paragraph breaks, tidy punctuation."""
    paragraphs = (_WHITESPACE.sub(" ", part).strip() for part in _PARAGRAPH_BREAK.split(text))
    text = "\n\n".join(part for part in paragraphs if part)
    text = _SPACE_BEFORE_PUNCTUATION.sub("", text)
    return _REPEATED_COMMA.sub(",", text)


RULES: tuple[Rule, ...] = (
    control_characters,  # first: no engine takes them, and no rule expects them
    compatibility_forms,  # early: "ｈｅｌｌｏ", "５０％" must meet every rule as plain text
    latex_rules.latex,  # before markup ("x_1") and money take its "$" and "_"
    markup,  # Markdown symbols must not be spoken or confuse later patterns
    symbol_rules.keyboard_keys,  # before pictographs, whose range holds "⌘" and "⏎"
    pictographs,  # early: an emoji between digits or words must not join or split them
    foreign_scripts,  # early: a letter of a script espeak names must not reach a rule
    unnamed_letters,  # before acronyms and words are read
    emails,  # before urls (the domain would be taken as a bare URL) and symbols (@)
    urls,  # before anything that reads dots, slashes, digits or symbols
    symbol_rules.hex_codes,  # after urls (which may hold them); before numbers take digits
    symbol_rules.comparisons,  # before money and ranges make words of what a sign compares
    phone_numbers,  # before dates and ranges, which would read "555-1234" as a range
    identifier_rules.identifiers,  # after phones; before dates and ranges ("ZIP 10001-1234")
    num.dotted_thousands,  # before dates, ranges and money: "1.000.000" is one number
    dates.dates,  # before ranges ("2024-03-05"), fractions ("3/5"), ordinals ("3rd"), years
    symbol_rules.unit_ranges,  # before ranges, which need digits beside the dash
    symbol_rules.expression_minus,  # before ranges read "x^2 - 5x" as "to"
    num.ranges,  # after phones/dates own their dashes; before times, negatives and money
    ratios,  # after ranges ("9:00-17:00"); before times would read "a ratio of 10:30"
    dates.times,  # after ranges ("9:00-17:00"); before abbreviations/acronyms take "a.m."
    abbreviations,  # before acronyms (e.g., i.e.) and numbers ("No. 5" -> "number 5")
    identifier_rules.house_numbers,  # after abbreviations read "400 W. 59th St." by its digits
    acronyms,  # after abbreviations so "e.g." is not read as "E G"
    roman_numerals,  # after acronyms ("U.S. II"), before cardinals add capitalised words
    num.negative_numbers,  # after ranges ("5-10"); before money ("-$5")
    money,  # before units, percent, years and cardinals ("$3.5 million")
    models.video_formats,  # before scaled numbers read "4K videos" as four thousand
    scaled_numbers,  # after money ("$5k"); before units ("5 MB" keeps its space)
    units.units_and_percent,  # after money; needs the literal "1" for singular units
    models.model_numbers,  # after units ("RTX 4090 24GB"); before years and cardinals
    models.letter_a,  # before symbols read the "+" of "an A+" alone
    year_rules.years,  # after dates and money own their four-digit numbers; before cardinals
    num.slashes,  # after money/units ("km/h"); before fractions read "4/5" as "four fifths"
    num.ordinals_and_fractions,  # after dates ("March 3rd"); before cardinals
    symbol_rules.symbols,  # after emails/urls/units consumed their @ & °; before cardinals ("#5")
    num.cardinal_numbers,  # last number rule: any digits left are plain quantities
    whitespace,  # last: rules above add and remove spaces freely
)


def normalize_text(text: str) -> str:
    """Rewrite ``text`` (English, en-US) into the words a speaker would say."""
    for rule in RULES:
        text = rule(text)
    return text
