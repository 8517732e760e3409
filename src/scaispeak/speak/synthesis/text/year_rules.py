"""Years in running text: "in 1999", "the 1990s", "2020-21", "Brown v. Board (1954)".

A four-digit number is a year only where its context says so (docs/text.md lists
them); elsewhere it is a quantity, read by the cardinals rule. Runs after dates and
money, which own their four-digit numbers (``normalize.py``).
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text import verbalize as say
from scaispeak.speak.synthesis.text.date_rules import YEAR

_DECADE = re.compile(r"(?:\b(?P<year>1[1-9]\d0|20\d0)|['’](?P<short>[1-9]0)|\b(?P<age>[2-9]0))s\b")
_YEAR_IN_CONTEXT = re.compile(
    # "the year ending 2026", "year-end 2026"; "ending in 2026" is the "in" context
    rf"(?P<ctx>\b(?i:(?:year|quarter|period|season|term|semester)[\s-](?:ending|ended"
    rf"|starting|beginning|end)|in|since|by|from|until|till|to|through|before|after|during|circa"
    rf"|around|of|year|founded|established|est\.|born|built|released|published|launched"
    rf"|copyright|fiscal|FY|Q[1-4]|H[12]|spring|summer|fall|autumn|winter|class\s+of"
    rf"|early|late|mid|pre|post)"  # "in late 2024", "mid-2025", "pre-2020 levels"
    rf"|©)[\s-]*{YEAR}\b(?![.,:]\d)"
)
# "a 1967 Mustang", "the 2024 Olympics": a year names the model or the event after it;
# "the 2024 election", "a 2019 report": one thing of that year, for years up to 2039 (a
# count is of things, "the 2000 votes", "the 1200 people", or before a word that counts
# or prices, "your 2037 balance", "a 2050 word limit").
_YEAR_BEFORE_NAME = re.compile(
    rf"\b(?P<ctx>(?i:a|the|his|her|its|my|your|our|their|this|that|last|next))\s+{YEAR}"
    r"(?:(?=\s+[A-Z])|(?<=19\d\d|20[0-3]\d)(?=\s+(?!(?:people|children|men|women|staff"
    r"|personnel|police|cattle|sheep|fish|deer|feet|teeth|mice|geese|crew|folk|word|character"
    r"|page|pixel|bit|byte|row|column|fee|balance|deposit|code|limit|watt|calorie|point"
    r"|piece|unit|item|meter|metre|mile|foot|pound|dollar|euro|gram|step|number)\b)"
    r"[a-z]+(?<!s)\b(?!['’]s)))"
)
# "Between 2010 and 2020", "in 2023 and 2024", "from 1990 or 1991": both are years.
_YEAR_PAIR = re.compile(
    rf"\b(?P<ctx>(?i:between|in|from|since|during|of))\s+{YEAR}\s+(?P<joint>and|or|&)"
    r"\s+(?P<second>1[1-9]\d\d|20\d\d)\b(?![.,:]\d)(?!\s+[a-z]+s\b)"
)
# "Happy 2025!", "plans for 2025.", "looking into 2026;": a year, where nothing it could
# count follows ("for 2000 people" is a count).
_YEAR_ENDS_PHRASE = re.compile(
    rf"\b(?P<ctx>(?i:happy|for|into|with|toward|towards))\s+{YEAR}(?=\s*(?:[.,;:!?)]|$))"
)
# A year that opens a sentence and is followed by what happened in it ("1998 was good",
# "2020 saw ..."): a count there is followed by what it counts ("1500 people came") or
# by a plural verb ("1500 were sold"), which are left out.
_YEAR_OPENS_SENTENCE = re.compile(
    r"(?:^|(?<=[.!?]\s))(?P<year>19\d\d|20\d\d)"
    r"(?=\s(?:was|is|will|saw|brought|marked|began|ended|became|proved|had|has)\b)",
    re.MULTILINE,
)
# A year alone in brackets, as a citation or a film gives it ("Brown v. Board (1954)",
# "The Godfather (1972)"), or after "c."/"ca." (circa): read as cardinals (helper-96).
# After a verb of documents, a year unless it counts what follows ("updated 1905 records").
_YEAR_AFTER_VERB = re.compile(
    rf"(?P<ctx>\b(?i:revised|updated|amended|enacted|dated|issued|filed|signed))\s+{YEAR}\b"
    r"(?![.,:]\d)(?!\s+[a-z]+s\b)"
)
_YEAR_IN_BRACKETS = re.compile(r"(?<=\()(?P<year>1[5-9]\d\d|20\d\d)(?=\))")
_CIRCA = re.compile(rf"\b(?:c|ca|Ca)\.\s?{YEAR}\b(?![.,:]\d)")  # not "Vitamin C. 1200 mg"
# A season or span written "2020-21", "2020-25" ("1999-2000" is the range rule's).
# With a slash, only a season of two years in a row ("the 2023/24 season"), read with a
# "slash" before (helper-96).
_SEASON = re.compile(rf"(?<![\w.,/-]){YEAR}(?P<mark>[-–/])(?P<end>\d\d)(?![\w/-]|[.,]\d)")


def _season(match: re.Match[str]) -> str:
    start, end = int(match["year"]), int(match["end"])
    if end <= start % 100 or (match["mark"] == "/" and end != (start + 1) % 100):
        return match[0]  # "1999-01" is not a span of years
    return f"{say.year(start)} to {say.year(start - start % 100 + end)}"


def _decade(match: re.Match[str]) -> str:
    if match["year"]:
        return say.plural(say.year(int(match["year"])))
    return say.plural(say.cardinal(int(match["short"] or match["age"])))


def years(text: str) -> str:
    """ "in 1999" -> "in nineteen ninety-nine", "the 1990s" / "the '80s" -> decades.

    Also "1998 was good": a year opening a sentence, before a singular verb.

    Runs after dates and money (which own their four-digit numbers) and before cardinals.
    """
    text = _DECADE.sub(_decade, text)
    text = _SEASON.sub(_season, text)
    text = _YEAR_PAIR.sub(_year_pair, text)
    text = _YEAR_ENDS_PHRASE.sub(_year_after_context, text)
    text = _YEAR_BEFORE_NAME.sub(_year_after_context, text)
    text = _YEAR_OPENS_SENTENCE.sub(lambda m: say.year(int(m["year"])), text)
    text = _YEAR_AFTER_VERB.sub(_year_after_context, text)
    text = _YEAR_IN_BRACKETS.sub(lambda m: say.year(int(m["year"])), text)
    text = _CIRCA.sub(lambda m: f"circa {say.year(int(m['year']))}", text)
    return _YEAR_IN_CONTEXT.sub(_year_after_context, text)


def _year_pair(match: re.Match[str]) -> str:
    first, second = say.year(int(match["year"])), say.year(int(match["second"]))
    return f"{match['ctx']} {first} {match['joint']} {second}"


def _year_after_context(match: re.Match[str]) -> str:
    return f"{match['ctx']} {say.year(int(match['year']))}"
