"""Symbols said as words: "&", "=", "+", "@", "#5", "~5", "°", "2 x 3", "1920x1080", "3x
faster", "w/o", "N/A" (``symbols``); comparisons and hearts (``comparisons``, earlier).
Rules of ``normalize.py``'s order.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.verbalize import CURRENCY_SIGNS

_COMPARED = (
    "faster|slower|more|less|better|worse|bigger|smaller|cheaper|higher|lower|longer"
    "|shorter|stronger|larger|quicker|as|the|speed|zoom|magnification|return|returns"
)
_SYMBOLS = (
    (re.compile(r"(?<=\d)\s*[*×]\s*(?=\(?\d)"), " times "),  # "2 * 3", "2 * (3 + 4)"
    # "(10 - 5) * 2", "(1+2)*3"; not "Revenue (2023)* 15% growth", a footnote's star
    (re.compile(r"(?<=\))[^\S\n]+[*×][^\S\n]+(?=\(?\w)|(?<=\d\))[*×](?=\(?\d)"), " times "),
    # "2 x 3" is arithmetic; "1920x1080", "2x4" (no spaces) are dimensions: "by".
    (re.compile(r"(?<=\d)\s[xX]\s(?=\d)"), " times "),
    (re.compile(r"(?<=\d)(?<!\b0)[xX](?=\d)"), " by "),  # not a hex literal ("0x1F")
    # "3x faster", "10X the speed", "zoom 4x.": a multiple, before a comparison or at
    # the end; not sizes ("2X shirt"), counts ("2x cables") or models ("7800X3D", "0x").
    (
        re.compile(
            r"(?<![\w.])(?<![-+=*/×] )(?<!minus )(?<!plus )(?<!times )"  # not "3 - 2x"
            rf"(?!0[xX])(\d+(?:\.\d+)?)[xX](?=\s+(?:{_COMPARED})\b|[.!?]?$)"
        ),
        r"\1 times",
    ),
    (re.compile(r"(?<=\d)\s?‰"), " per mille"),
    # Shorthand written with a slash: "w/o sugar", "w/ cream", "N/A", "+/- 5".
    (re.compile(r"\+/-"), " plus or minus "),
    (re.compile(r"\b[wW]/[oO]\b"), "without"),
    (re.compile(r"\b[wW]/(?=\s)"), "with"),
    (re.compile(r"\bN/A\b"), "not applicable"),
    # Growth as analysts write it: "up 5% y/y", "QoQ" (helper-96).
    (re.compile(r"\b(?:[yY]/[yY]|YoY|yoy)\b"), "year over year"),
    (re.compile(r"\b(?:[qQ]/[qQ]|QoQ|qoq)\b"), "quarter over quarter"),
    (re.compile(r"(?:(?<=%\s)|(?<=percent\s))[mM]/[mM]\b"), "month over month"),
    (re.compile(r"\*"), ""),
    # (?<!\s): a match starts where its spaces do, never inside them; else each start
    # in a long run of spaces rescans the rest of it (quadratic: minutes for a job).
    # Code's operators: "x != y" was "x! equals y", the opposite; "a || b" was "a b".
    (re.compile(r"(?<!\s)\s*(?:!==?|≠)\s*"), " not equal to "),
    (re.compile(r"(?<!\s)\s*={2,3}\s*"), " equals "),
    (re.compile(r"(?<!\s)\s*&&\s*"), " and "),
    (re.compile(r"(?<!\s)\s*\|\|\s*"), " or "),
    (re.compile(r"(?<!\s)\s*&\s*"), " and "),
    (re.compile(r"(?<!\s)\s*=\s*"), " equals "),
    (re.compile(r"(?<!\s)\s*\+\s*"), " plus "),
    (re.compile(r"(?<!\s)\s*@\s*"), " at "),
    (re.compile(r"#(?=\d)"), "number "),
    (re.compile(r"~(?=\s?\d)"), "about "),
    (re.compile(r"(?:(?i:copyright)\s*)?©\s*"), "copyright "),  # not "copyright copyright"
    (re.compile(r"§§\s*"), "sections "),
    (re.compile(r"§\s*"), "section "),
    (re.compile(r"(?<!\s)\s*°"), " degrees"),
)


# A heart: "I <3 you" is love; one closing a phrase is dropped, as emoji are ("Happy
# birthday <3", "Sleep well <3"), unless it follows what a quantity is compared to: a
# measure ("error rate <3.", "latency <3,"), a variable ("p <3"), a colon or an equals
# sign. Threes repeated ("<333") are always a heart, and so is one before another.
# Hearts in a row ("<3<3", "<3 <3") are one heart: love before what is loved, else none.
_LOVED = r"(?:you|u|it|this|that|them|him|her|my|your|our|ya)\b"
_HEART_AS_VERB = re.compile(rf"(?<!\S)<3+(?=\s+{_LOVED})")
# "<333" is never a comparison: between words it is love, as "I ❤️ NY" is, else none.
_MANY_THREES_AS_VERB = re.compile(r"(?<=\w )<333+(?= [^\W\d])")
_MANY_THREES = re.compile(r"(?<!\S)<333+(?!\d)")
_HEART_RUN = re.compile(rf"(?<!\S)<3+(?:\s*<3+)+(?P<loved>(?=\s+{_LOVED}))?")
_HEART_AT_PHRASE_END = re.compile(r"(?<!\S)<(?P<threes>3+)(?=\s*(?:$|[!.,)]|<3))")
_COMPARED_BEFORE = re.compile(
    r"(?:[:=]|\b(?![uUaAI]\b)[a-zA-Z]|\b(?i:rates?|ratios?|scores?|values?|latency|errors?|times?|sizes?"
    r"|levels?|counts?|age|days|hours|minutes|seconds|ms|percent|temp|temperature|costs?"
    r"|prices?|load|usage|risk|bmi|ph|dose|grade|rank|margin|delay|ping|loss|average|mean"
    r"|median|total|number|amount|weight|height|speed|distance|budget|limit|less|under|below"
    r"|fewer|than|at|was|is|are|be|stays?|keep|kept))\s*$"
)
_AN_AMOUNT = rf"(?=\s?[{CURRENCY_SIGNS}]?\.?\d)"
# Comparisons: "x <= 5", "Cost < 5 dollars", "<5 ms", "p<0.05", ">$50"; not arrows ("->",
# "=>") or menu paths ("Settings > Privacy").
_COMPARISONS = (
    (re.compile(r"(?<!\s)\s*(?:<=|≤)\s*"), " less than or equal to "),
    (re.compile(r"(?<![\s=-])\s*(?:>=|≥)\s*"), " greater than or equal to "),
    (re.compile(rf"(?<=\S)\s+<\s+(?![A-Z][a-z])|(?<!<)<{_AN_AMOUNT}"), " less than "),
    (
        re.compile(rf"(?<=[^\s=-])\s+>\s+(?![A-Z][a-z])|(?<![>=-])>{_AN_AMOUNT}"),
        " greater than ",
    ),
)


def _heart_or_less_than(match: re.Match[str]) -> str:
    before = match.string[max(0, match.start() - 24) : match.start()]
    if len(match["threes"]) > 2 or not _COMPARED_BEFORE.search(before):
        return ""
    return match[0]  # a comparison, read below


def comparisons(text: str) -> str:
    """<, >, <=, >= (and ≤ ≥) -> "less than"...; "<3" -> "love" or nothing where it is a
    heart. Before money and numbers are words: the sign is read by what follows it."""
    text = _HEART_RUN.sub(lambda run: "" if run["loved"] is None else "love", text)
    text = _HEART_AS_VERB.sub("love", text)
    text = _HEART_AT_PHRASE_END.sub(_heart_or_less_than, text)
    text = _MANY_THREES.sub("", _MANY_THREES_AS_VERB.sub("love", text))
    for pattern, words in _COMPARISONS:
        text = pattern.sub(words, text)
    return text


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_POWER_NAMES = {"2": " squared", "3": " cubed"}
# "10^-3", "x^2", "2^n"; "5²", "10⁻³", "mc²" (after a number, a bracket or a short name),
# never a footnote's mark after a word ("as shown¹"), which is dropped. Units ("m²") are
# read before this rule.
_CARET_POWER = re.compile(r"(?<=[\w)])\^\(?(?P<power>[-+−]?(?:\d+|[a-z]\b))\)?")
_SUPERSCRIPT_POWER = re.compile(
    r"(?:(?<=[\d)])|(?<=\b[A-Za-z])|(?<=\b[A-Za-z]{2}))"
    r"(?P<power>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)"
)
_FOOTNOTE_MARK = re.compile(r"(?<=[A-Za-z.,;:!?\"”’'])[⁰¹²³⁴⁵⁶⁷⁸⁹]+")


def _power(match: re.Match[str]) -> str:
    power = match["power"].translate(_SUPERSCRIPTS).replace("−", "-")
    if power in _POWER_NAMES:
        return _POWER_NAMES[power]
    sign = {"-": "minus ", "+": "plus "}.get(power[0], "")
    return f" to the power of {sign}{power.lstrip('-+')}"


def exponents(text: str) -> str:
    """10^-3 -> "10 to the power of minus 3", x² -> "x squared", 10³ -> "10 cubed"; a
    footnote's superscript after a word is dropped."""
    text = _CARET_POWER.sub(_power, text)
    text = _SUPERSCRIPT_POWER.sub(_power, text)
    return _FOOTNOTE_MARK.sub("", text)


# A minus between terms of algebra, spaced: "2x - 3", "a - b", "(x - 1)", "b^2 - 4ac".
# espeak says nothing for a spaced hyphen, and the range rule read "^2 - 5x" as "to".
# A variable is a letter alone or after a coefficient ("x", "2x", "4ac"); one side
# at least must be one (or a bracket, or a power), so "Part 1 - Intro" stays prose,
# and never "am"/"pm" ("9 - 5pm" is a range of hours).
_VARIABLE = (  # not an initial ("(Reuters) - U.S. prices" was "minus U S", helper-96)
    r"(?<![\w.])(?:\d+(?:\.\d+)?)?[a-zA-Z]{1,2}(?<![ap]m)(?<!\b[a-zA-Z]{2})\b(?!\.[A-Za-z])"
)
_TERM_BEFORE = rf"(?:{_VARIABLE}|\)|\^\d+|[²³])"
# ...and what follows the right-hand term is more of the expression or its end, not a
# word of prose: "Step 1 - a quick overview", "Plan B - I think", "(2019) - 5 stars"
# keep their dash.
_EXPRESSION_GOES_ON = (
    r"(?=\s*(?:[-+=*/×<>)^²³,.;:!?]|$|(?:over|plus|minus|times|equals|divided)\b))"
)
_TERM_AFTER = rf"(?:(?:{_VARIABLE}|(?<![\w.])\d+(?:\.\d+)?){_EXPRESSION_GOES_ON}|\((?=\s*[\w-]))"
_EXPRESSION_MINUS = re.compile(
    rf"(?P<left>{_TERM_BEFORE}|(?<![\w.])\d+(?:\.\d+)?)\s[-−]\s(?={_TERM_AFTER})"
)


def _minus(match: re.Match[str]) -> str:
    left, after = match["left"], match.string[match.end() :]
    if re.fullmatch(r"\d+(?:\.\d+)?", left) and re.match(r"\d", after):
        return match[0]  # two numbers: the subtraction and range rules decide
    return f"{left} minus "


# A range whose ends both carry a unit or suffix ("5%–10%", "20°C–25°C", "1st–3rd"):
# the range rule wants digits beside the dash, and espeak says nothing for it.
_UNIT_RANGE_DASH = re.compile(
    rf"(?:(?<=\d%)|(?<=\d°)|(?<=°[CF])|(?<=\d(?:st|nd|rd|th)))[^\S\n]?[-–][^\S\n]?(?=[{CURRENCY_SIGNS}]?\d)"
)


def unit_ranges(text: str) -> str:
    """ "5%–10%" -> "5% to 10%", "1st–3rd" -> "1st to 3rd"."""
    return _UNIT_RANGE_DASH.sub(" to ", text)


def expression_minus(text: str) -> str:
    """ "y = 2x - 3" -> "y = 2x minus 3", "a - b" -> "a minus b"."""
    return _EXPRESSION_MINUS.sub(_minus, text)


# Keyboard keys sit in the emoji range and are words in instructions ("press ⌘K").
_KEYS = re.compile("[\u2318\u2325\u21e7\u2303\u232b\u23ce\u238b](?![\ufe0f\u20e3])")
_KEY_NAMES = {
    "⌘": "Command",
    "⌥": "Option",
    "⇧": "Shift",
    "⌃": "Control",
    "⌫": "Delete",
    "⏎": "Return",
    "⎋": "Escape",
}


# Hexadecimal written for machines: a colour ("#FF5733"), a UUID, a hash or a commit id
# of 7 characters or more. Read as numbers, they came out half thousands, half letters
# ("#FF five thousand seven hundred thirty-three"): each character is said alone.
# A colour has a digit or is written in capitals ("#1A1A2E", "#FFF"): "#dad" and "#fed"
# are hashtags. A hash or commit id is lowercase and mixes digits and letters both ways
# ("e3b0c442", "a1b2c3d"): "12500cc" (a number and a unit) and "12Dec2023" are not.
_HEX_COLOUR = re.compile(
    r"(?<![\w&])#(?=[0-9a-fA-F]{0,5}[a-fA-F])(?=[0-9a-fA-F]{0,5}\d|[A-F0-9]{3}\b|[A-F0-9]{6}\b)"
    r"([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b"
)
_UUID = r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"
_HASH = r"\b(?=[0-9a-f]*\d[0-9a-f]*[a-f])(?=[0-9a-f]*[a-f][0-9a-f]*\d)[0-9a-f]{7,64}\b"
_HEX_CODE = re.compile(f"{_UUID}|{_HASH}")


def _spelled(code: str) -> str:
    return " ".join(say.digits(ch) if ch.isdigit() else ch.upper() for ch in code if ch != "-")


def hex_codes(text: str) -> str:
    """ "#FF5733" -> "hex F F five seven three three"; a UUID or "a1b2c3d" spelled."""
    text = _HEX_COLOUR.sub(lambda m: f"hex {_spelled(m[1])}", text)
    return _HEX_CODE.sub(lambda m: _spelled(m[0]), text)


def keyboard_keys(text: str) -> str:
    """⌘, ⌥, ⇧, ⌃, ⌫, ⏎, ⎋ -> the key's name: "⌘K" -> "Command K"."""
    return _KEYS.sub(lambda m: f" {_KEY_NAMES[m[0]]} ", text)


def symbols(text: str) -> str:
    """&, =, +, @, #5, ~5, °, arithmetic * × x, 1920x1080, 3x, w/, w/o, N/A ->
    words; stray * (emphasis) removed."""
    text = exponents(text)  # before "+" and "-" are read alone
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    return text
