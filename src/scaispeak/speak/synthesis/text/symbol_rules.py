"""Symbols said as words: "&", "=", "+", "@", "#5", "~5", "°", "2 x 3", "1920x1080", "3x
faster", comparisons, "w/o", "N/A". A rule of ``normalize.py``'s order.
"""

from __future__ import annotations

import re

_COMPARED = (
    "faster|slower|more|less|better|worse|bigger|smaller|cheaper|higher|lower|longer"
    "|shorter|stronger|larger|quicker|as|the|speed|zoom|magnification|return|returns"
)
_SYMBOLS = (
    (re.compile(r"(?<=\d)\s*[*×]\s*(?=\d)"), " times "),
    # "2 x 3" is arithmetic; "1920x1080", "2x4" (no spaces) are dimensions: "by".
    (re.compile(r"(?<=\d)\s[xX]\s(?=\d)"), " times "),
    (re.compile(r"(?<=\d)(?<!\b0)[xX](?=\d)"), " by "),  # not a hex literal ("0x1F")
    # "3x faster", "10X the speed", "zoom 4x.": a multiple, before a comparison or at
    # the end; not sizes ("2X shirt"), counts ("2x cables") or models ("7800X3D", "0x").
    (
        re.compile(rf"(?<![\w.])(?!0[xX])(\d+(?:\.\d+)?)[xX](?=\s+(?:{_COMPARED})\b|[.!?]?$)"),
        r"\1 times",
    ),
    # A heart: "I <3 you" is love; one closing a phrase is dropped, as emoji are.
    (re.compile(r"(?<!\S)<3(?=\s+(?:you|u|it|this|that|them|him|her|my|your|our|ya)\b)"), "love"),
    (re.compile(r"(?<!\S)<3+(?=\s*(?:$|[!.,)]))"), ""),
    # Comparisons: "x <= 5", "Cost < 5 dollars", "<5 ms"; not arrows ("->", "=>") or
    # menu paths ("Settings > Privacy").
    (re.compile(r"(?<!\s)\s*(?:<=|≤)\s*"), " less than or equal to "),
    (re.compile(r"(?<![\s=-])\s*(?:>=|≥)\s*"), " greater than or equal to "),
    (
        re.compile(r"(?<=\S)\s+<\s+(?![A-Z][a-z])|(?<![\w<])<(?=\s?\d)"),
        " less than ",
    ),
    (re.compile(r"(?<=[^\s=-])\s+>\s+(?![A-Z][a-z])|(?<![\w>=-])>(?=\s?\d)"), " greater than "),
    # Shorthand written with a slash: "w/o sugar", "w/ cream", "N/A".
    (re.compile(r"\b[wW]/[oO]\b"), "without"),
    (re.compile(r"\b[wW]/(?=\s)"), "with"),
    (re.compile(r"\bN/A\b"), "not applicable"),
    (re.compile(r"\*"), ""),
    # (?<!\s): a match starts where its spaces do, never inside them; else each start
    # in a long run of spaces rescans the rest of it (quadratic: minutes for a job).
    (re.compile(r"(?<!\s)\s*&\s*"), " and "),
    (re.compile(r"(?<!\s)\s*=\s*"), " equals "),
    (re.compile(r"(?<!\s)\s*\+\s*"), " plus "),
    (re.compile(r"(?<!\s)\s*@\s*"), " at "),
    (re.compile(r"#(?=\d)"), "number "),
    (re.compile(r"~(?=\s?\d)"), "about "),
    (re.compile(r"©\s*"), "copyright "),
    (re.compile(r"(?<!\s)\s*°"), " degrees"),
)


def symbols(text: str) -> str:
    """&, =, +, @, #5, ~5, °, arithmetic * × x, 1920x1080, 3x, < > <= >=, w/, w/o, N/A ->
    words; stray * (emphasis) removed."""
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    return text
