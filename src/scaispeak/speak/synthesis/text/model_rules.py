"""Model numbers and video formats: "RTX 4090", "Boeing 747", "A380", "1080p", "4K videos";
and the letter "A" where espeak would say the article ("A4", "Vitamin A deficiency").

People say a product's number in pairs of digits, as they say a year ("forty ninety",
"seven forty-seven"), not as a quantity ("four thousand ninety"). A capitalised word
before a number is as often a count's ("NYC 1500 cases") or names a code ("PIN 1234",
"IL 62704"), so a number is read as a model only after one of the product lines listed
here.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say

# Each is nearly always followed by a model number, never by a count.
_PRODUCT_LINES = "RTX|GTX|RX|GeForce|Radeon|Boeing|Xbox|Porsche|Cessna|Nokia|Atari"
# "RTX 4090", "RX 7900XT", "Boeing 747s"; "RTX 4090 24GB" (the size is a unit's).
_AFTER_PRODUCT_LINE = re.compile(
    rf"(?P<before>\b(?:{_PRODUCT_LINES})\s)(?P<n>[1-9]\d{{2,3}})"
    r"(?:(?P<plural>s)|(?P<suffix>[A-Z]{1,3}))?\b(?![.,]\d)"
)
# Airbus's models, written with their letter ("A380", "A320neo"). espeak reads a lone
# "A" as the article ("uh"): "A-three" makes it say the letter.
_AIRBUS = re.compile(
    r"\bA(?P<n>220|300|310|318|319|320|321|330|340|350|380)(?P<neo>neo)?(?P<plural>s)?\b"
)


# A code of capitals, a dash and a number of three or four digits: "F-150", "SHA-256",
# "US-101", "T-1000" are said as models are ("F one fifty", "SHA two fifty-six").
_LETTERS_DASH_NUMBER = re.compile(r"\b(?P<letters>[A-Z]{1,3})-(?P<n>[1-9]\d{2,3})\b(?![.,]\d|-)")
# A capital "A" and a number ("A4" paper, seat "A12", an "A1" grade): espeak says a lone
# "A" as the article ("uh four"); "A-four" makes it say the letter.
_LETTER_A_AND_NUMBER = re.compile(r"\bA(?P<n>\d{1,2})\b(?![.,]\d)")
# The letter before a word where the article cannot be: after an article ("an A on the
# test", "the A team") or a word that names things by letter ("Vitamin A deficiency",
# "Plan A worked", "Type A personality"). Before punctuation espeak says the letter.
_NAMED_BY_LETTER = (
    r"an|the|plan|vitamin|type|exhibit|grade|option|class|section|group|team|category|row"
    r"|gate|terminal|level|block|tier|side|part|appendix|size|series|hepatitis|platform"
    r"|building|wing|zone|lot|form|phase|step|figure|table|chapter|box|blood"
)
_LETTER_A_BEFORE_A_WORD = re.compile(
    rf"(?P<before>\b(?P<namer>(?i:{_NAMED_BY_LETTER}))\s)A(?=\s+(?P<next>\w))"
)
# ...and beside another letter: "A or B", "from A to Z", "A and B".
_LETTER_A_IN_A_PAIR = re.compile(r"\bA(?=\s+(?:or|and|to|through|versus|vs\.?)\s+[A-Z]\b)")
_GRADE_A_PLUS = re.compile(r"\bA\+(?![\w+])")
# A flight number, after "flight" and perhaps its airline's code ("DL", "B6", "9W"): said
# in pairs as a model's is ("Flight DL 1423" is "fourteen twenty-three").
_FLIGHT_NUMBER = re.compile(
    r"(?P<before>\b[Ff]light\s(?:(?:[A-Z]{2}|[A-Z]\d|\d[A-Z])\s?)?)(?P<n>[1-9]\d{2,3})\b"
    r"(?![.,:]\d)"
)


def _model(match: re.Match[str]) -> str:
    words = say.model_number(int(match["n"]))
    if match["plural"]:
        return match["before"] + say.plural(words)
    return match["before"] + words + (f" {match['suffix']}" if match["suffix"] else "")


def _flight_number(match: re.Match[str]) -> str:
    before = match["before"]
    separator = "" if before.endswith(" ") else " "  # "BA2490": the code, then the number
    return before + separator + say.model_number(int(match["n"]))


def _airbus(match: re.Match[str]) -> str:
    words = "A-" + say.model_number(int(match["n"]))
    if match["plural"]:
        words = say.plural(words)
    return words + (" neo" if match["neo"] else "")


def model_numbers(text: str) -> str:
    """RTX 4090 -> "RTX forty ninety", Boeing 747 -> "seven forty-seven", A380 -> "A-three eighty",
    F-150 -> "F-one fifty", A4 -> "A-four", Flight DL 1423 -> "fourteen twenty-three".

    Runs after units ("24GB") and before years and cardinals, which read "4090" as a count.
    """
    text = _AFTER_PRODUCT_LINE.sub(_model, text)
    text = _FLIGHT_NUMBER.sub(_flight_number, text)
    text = _AIRBUS.sub(_airbus, text)
    text = _LETTERS_DASH_NUMBER.sub(
        lambda m: f"{m['letters']}-{say.model_number(int(m['n']))}", text
    )
    return _LETTER_A_AND_NUMBER.sub(lambda m: f"A-{say.cardinal(int(m['n']))}", text)


def letter_a(text: str) -> str:
    """ "Vitamin A deficiency", "an A on the test", "an A+" -> "A-", "A-plus": the letter,
    which espeak would say as the article ("uh").

    Runs before symbols, which would read the "+" alone.
    """
    text = _GRADE_A_PLUS.sub("A-plus", text)
    text = _LETTER_A_IN_A_PAIR.sub("A-", text)
    return _LETTER_A_BEFORE_A_WORD.sub(_letter_a_before_a_word, text)


def _letter_a_before_a_word(match: re.Match[str]) -> str:
    if match["namer"][0].isupper() and match["next"].isupper():
        return match[0]  # a title's article: "How To Plan A Wedding"
    return f"{match['before']}A-"


# Video lines and scans said like model numbers: "1080p" is "ten eighty p".
_VIDEO_FORMAT = re.compile(
    r"(?<![\w.,])(?P<lines>144|240|360|480|540|576|720|1080|1440|2160|4320)(?P<scan>[pi])\b"
)
# "4K videos", "8K TVs": a screen's resolution, "four K". The scaled-number rule reads a
# "k" before any other plural as thousands ("10k steps", "5K runs").
_RESOLUTION_BEFORE_SCREEN = re.compile(
    r"(?<![\w.,])(?P<n>[2-8])[kK](?=\s+(?:videos|displays|monitors|screens|TVs|televisions"
    r"|movies|films|streams|cameras|panels|projectors|photos|images|textures)\b)"
)


def video_formats(text: str) -> str:
    """1080p -> "ten eighty p", 720p, 2160p; "4K videos" -> "four K videos".

    Runs before scaled numbers, which would read "4K videos" as "four thousand videos".
    """
    text = _VIDEO_FORMAT.sub(lambda m: f"{say.model_number(int(m['lines']))} {m['scan']}", text)
    return _RESOLUTION_BEFORE_SCREEN.sub(lambda m: f"{say.cardinal(int(m['n']))} K", text)
