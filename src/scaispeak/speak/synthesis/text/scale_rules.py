"""Numbers with a scale letter: "1M users", "2.5B", "10k steps"; not "Apt 4B" or "221B
Baker Street", where the letter is part of a name.

Runs after money ("$5k") and before units ("5 MB" keeps its space): ``normalize.py``.
"""

from __future__ import annotations

import re

from scaispeak.speak.synthesis.text.numeric_rules import SCALES

# "k" is thousands before a plural ("10k steps") or "+" ("50k+ users": more than a
# count, never a size such as "a 5K run"). Words ending in "s" that are not plurals
# ("a 5K is", "the 10K was") leave it a name.
_NOT_PLURALS = (
    r"is|was|has|does|this|thus|as|us|its|his|hers|plus|less|yes|always|across|perhaps"
    r"|unless|whereas|besides|towards|afterwards"
)
_SCALED = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:\.\d+)?)(?:(?P<big>[MB]|bn|mn|tn)\b"
    rf"|(?P<k>[kK])(?=\s+(?!(?:{_NOT_PLURALS})\b)[a-z]+s\b|\+))"
)


# "5m users", "10m people": a lowercase "m" is millions before what is counted in
# millions ("5m tall" and "a 100m sprint" are meters, the units rule's).
_MILLIONS_OF = re.compile(
    r"(?<![\w.,])(?P<num>\d{1,3}(?:\.\d+)?)m(?=\s+(?:users|people|customers|subscribers"
    r"|downloads|views|followers|members|visitors|viewers|listeners|readers|players|homes"
    r"|households|residents|voters|votes|copies|devices|accounts|jobs|patients|students"
    r"|passengers|tourists|streams|installs|records)\b)"
)


# "Apartment 4B", "gate 12B", "seat 3M": a letter after a number that names a place.
_PLACE_BEFORE = re.compile(
    r"(?i:apartment|apt\.?|unit|suite|room|gate|seat|row|platform|flat|building|terminal"
    r"|block|level|floor|exit|bus|route|pier|stop|bay|dock|locker|stand|lane|track|hangar)\s?$"
)


# "221B Baker Street": a house number, when a street name follows.
_STREET_AFTER = re.compile(
    r"\s+(?:[A-Z][\w'-]*\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr"
    r"|Boulevard|Blvd|Way|Place|Pl|Court|Ct|Square|Sq|Terrace|Close|Crescent|Highway|Hwy)\b"
)


def _scaled(match: re.Match[str]) -> str:
    if _PLACE_BEFORE.search(match.string, max(0, match.start() - 12), match.start()):
        return match[0]
    if _STREET_AFTER.match(match.string, match.end()):
        return match[0]
    scale = SCALES[(match["big"] or match["k"]).lower()]
    return f"{match['num']} {scale}"


def scaled_numbers(text: str) -> str:
    """1M users -> "1 million users", 2.5B, 10k steps -> "10 thousand steps".

    "k" only before a plural word or "+": "5K run" is said "five K". Runs after money
    ("$5k").
    """
    text = _MILLIONS_OF.sub(r"\g<num> million", text)
    return _SCALED.sub(_scaled, text)
