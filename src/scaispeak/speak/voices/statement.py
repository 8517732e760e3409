"""The consent statement a speaker reads, and the rule that decides it was read.

A statement names the speaker and the platform and ends with a one-time phrase of
four common words drawn at random (about 28 bits), so a recording made for another
clone, or before the challenge was issued, cannot pass.

Matching rule (docs/voices.md): both texts are lower-cased, digits become words,
and everything but letters is dropped, so "one-time" equals "one time" and
"ScaiSpeak" is compared with "Skye speak" letter by letter. The recording passes when
(1) the character error rate of the transcript against the whole statement is at
most ``statement_max_char_error``, (2) the phrase occurs in the transcript with an edit
distance of at most ``phrase_max_edit_ratio`` of its length (approximate substring
match), (3) no word of it refuses or negates ("not", "never", "disagree"), and (4) the
speaker's name occurs in it within ``NAME_MAX_EDIT_RATIO``. Rule 2 matters: the phrase
is a small part of the statement, so a reading of an old statement would pass rule 1
alone; rules 3 and 4, because "do not agree" or another person's name cost only a few
characters of rule 1's slack.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from num2words import num2words

_WORD_LIST = """
amber anchor apple arrow autumn badger banner barley basket beacon berry blanket
blossom bottle breeze bridge bronze bubble bucket butter button cabin cactus camera
candle carpet carrot castle cedar cherry circle clover cobalt coconut cookie copper
cotton crystal daisy desert dinner doctor dolphin dragon eagle ember engine falcon
fiddle forest fossil fountain garden garlic ginger glacier granite guitar hammer harbor
hazel honey jasmine jungle kettle kitten ladder lantern lemon lizard magnet maple
marble market monkey mountain napkin needle olive orange paddle panda pebble pencil
pepper pillow pirate planet pocket potato puzzle rabbit rainbow raven ribbon river
robot rocket saddle salmon silver spider spoon squirrel summer ticket tiger timber
tractor trumpet tunnel turtle valley velvet violin wallet walnut window winter wizard
yellow zebra
"""
# Common, concrete words Whisper tiny.en hears reliably from the stock voices; words it
# misheard in measurement (docs/voices.md) were dropped.
PHRASE_WORDS: tuple[str, ...] = tuple(_WORD_LIST.split())


# A negation or refusal costs a few characters of the statement, well inside rule 1's
# slack: "I, Joe, do not agree that..." scored a character error of 0.12 and passed.
_REFUSALS = frozenset(
    {"not", "no", "never", "nor", "neither", "refuse", "refused", "refuses", "disagree"}
    | {"disagrees", "deny", "denies", "decline", "declines", "reject", "rejects", "revoke"}
    | {"withdraw", "dont", "don't", "won't", "wont", "cannot", "can't", "doesn't", "doesnt"}
    | {"didn't", "didnt", "isn't", "isnt"}
)
NAME_MAX_EDIT_RATIO = 0.8
"""Rule 4: what is said before "agree" is the name the challenge was issued for, within
this share of its letters. Whisper spells names as it hears them: "Shivon Nee Breen"
for "Siobhan Ní Bhriain" is 0.73 away and passes; another person's name is about its
whole length away ("Mallory Smith" for "Joe Sample": 1.11) and does not."""


@dataclass(frozen=True)
class StatementMatch:
    transcript: str
    char_error: float
    phrase_edit_ratio: float
    max_char_error: float
    max_phrase_edit_ratio: float
    name_edit_ratio: float = 0.0
    refusal: str = ""  # the refusing word heard, if any

    @property
    def passed(self) -> bool:
        return (
            self.char_error <= self.max_char_error
            and self.phrase_edit_ratio <= self.max_phrase_edit_ratio
            and self.name_edit_ratio <= NAME_MAX_EDIT_RATIO
            and not self.refusal
        )


def new_phrase(words: int = 4) -> str:
    return " ".join(secrets.choice(PHRASE_WORDS) for _ in range(words))


def compose_statement(speaker_name: str, platform: str, phrase: str) -> str:
    return (
        f"I, {speaker_name}, agree that {platform} may create and use a synthetic copy "
        f"of my voice. My one-time phrase is {phrase}."
    )


def speaker_in(statement: str) -> str:
    """The speaker's name in a statement ``compose_statement`` wrote."""
    return statement.removeprefix("I, ").split(", agree that ", 1)[0]


_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[a-z']+")
_NOT_LETTER = re.compile(r"[^a-z]+")


def letters(text: str) -> str:
    """Lower-case letters only, with numbers spelt out ("7" -> "seven")."""
    text = _DIGITS.sub(lambda m: f" {num2words(int(m.group(0)))} ", text.lower())
    return _NOT_LETTER.sub("", text)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost one)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def substring_distance(needle: str, haystack: str) -> int:
    """Fewest edits turning ``needle`` into some substring of ``haystack`` (Sellers)."""
    previous = [0] * (len(haystack) + 1)  # a match may start anywhere, for free
    for i, cn in enumerate(needle, 1):
        current = [i]
        for j, ch in enumerate(haystack, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cn != ch)))
        previous = current
    return min(previous)


def match_statement(
    transcript: str,
    statement: str,
    phrase: str,
    *,
    max_char_error: float,
    max_phrase_edit_ratio: float,
) -> StatementMatch:
    heard, expected, secret = letters(transcript), letters(statement), letters(phrase)
    char_error = edit_distance(heard, expected) / max(len(expected), 1)
    phrase_ratio = substring_distance(secret, heard) / max(len(secret), 1)
    name_ratio = _name_edit_ratio(transcript, speaker_in(statement))
    return StatementMatch(
        transcript,
        round(char_error, 4),
        round(phrase_ratio, 4),
        max_char_error,
        max_phrase_edit_ratio,
        round(name_ratio, 4),
        _refusal_in(transcript),
    )


_AGREE = re.compile(r"\bagree", re.IGNORECASE)  # not inside a name ("Magreen")


def _name_edit_ratio(transcript: str, speaker: str) -> float:
    """How far what was said before "agree" ("I, Joe Sample,") is from the speaker's
    name, as a share of its letters. A name in another script has no letters to
    compare: 0. A transcript without "agree" is compared anywhere (rule 1 judges it)."""
    name = letters(speaker)
    if not name:
        return 0.0
    agreed = _AGREE.search(transcript)
    if agreed is None:
        return substring_distance(name, letters(transcript)) / len(name)
    said = letters(transcript[: agreed.start()]).removeprefix("i")
    return edit_distance(said, name) / len(name)


def _refusal_in(transcript: str) -> str:
    """The first word of the transcript that refuses or negates ("not", "never")."""
    words = _WORD.findall(transcript.lower().replace("’", "'"))
    return next((word for word in words if word in _REFUSALS), "")
