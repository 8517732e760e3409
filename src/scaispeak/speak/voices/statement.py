"""The consent statement a speaker reads, and the rule that decides it was read.

A statement names the speaker and the platform and ends with a one-time phrase of
four common words drawn at random (about 28 bits), so a recording made for another
clone, or before the challenge was issued, cannot pass.

Matching rule (docs/voices.md): both texts are lower-cased, digits become words,
and everything but letters is dropped, so "one-time" equals "one time" and
"ScaiSpeak" is compared with "Skye speak" letter by letter. The recording passes when
(1) the character error rate of the transcript against the whole statement is at
most ``statement_max_char_error``, and (2) the phrase occurs in the transcript with
an edit distance of at most ``phrase_max_edit_ratio`` of its length (approximate
substring match). Rule 2 matters: the phrase is a small part of the statement, so a
reading of an old statement would pass rule 1 alone.
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


@dataclass(frozen=True)
class StatementMatch:
    transcript: str
    char_error: float
    phrase_edit_ratio: float
    max_char_error: float
    max_phrase_edit_ratio: float

    @property
    def passed(self) -> bool:
        return (
            self.char_error <= self.max_char_error
            and self.phrase_edit_ratio <= self.max_phrase_edit_ratio
        )


def new_phrase(words: int = 4) -> str:
    return " ".join(secrets.choice(PHRASE_WORDS) for _ in range(words))


def compose_statement(speaker_name: str, platform: str, phrase: str) -> str:
    return (
        f"I, {speaker_name}, agree that {platform} may create and use a synthetic copy "
        f"of my voice. My one-time phrase is {phrase}."
    )


_DIGITS = re.compile(r"\d+")
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
    return StatementMatch(
        transcript,
        round(char_error, 4),
        round(phrase_ratio, 4),
        max_char_error,
        max_phrase_edit_ratio,
    )
