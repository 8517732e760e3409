"""The consent statement rule on transcripts: what Whisper writes for a genuine reading
passes; a refusal, or another person's name, does not (helper-67 heard both accepted)."""

from __future__ import annotations

import pytest

from scaispeak.speak.voices.statement import compose_statement, match_statement

PHRASE = "amber anchor apple arrow"
STATEMENT = compose_statement("Joe Sample", "ScaiSpeak", PHRASE)


def _passes(transcript: str, statement: str = STATEMENT) -> bool:
    match = match_statement(
        transcript, statement, PHRASE, max_char_error=0.25, max_phrase_edit_ratio=0.35
    )
    return match.passed


@pytest.mark.parametrize(
    "transcript",
    [
        STATEMENT,
        "I, Joe Sample, agree that Skye speak may create and use a synthetic copy of my "
        "voice. My one time phrase is amber anchor apple arrow.",
        "I Joe Sampel agree that SkySpeak may create and use a synthetic copy of my voice "
        "my one-time phrase is amber anchor apple arrow",
    ],
)
def test_a_reading_as_whisper_writes_it_passes(transcript: str) -> None:
    assert _passes(transcript)


@pytest.mark.parametrize(
    "transcript",
    [
        STATEMENT.replace("agree", "do not agree"),  # CER 0.05: rule 1 alone let it pass
        STATEMENT.replace("agree", "disagree"),
        STATEMENT.replace("may create", "may never create"),
        STATEMENT.replace("I, Joe Sample, agree", "I, Joe Sample, don't agree"),
        STATEMENT.replace("Joe Sample", "Mallory Smith"),  # someone else consenting
    ],
)
def test_a_refusal_or_another_persons_name_fails(transcript: str) -> None:
    assert not _passes(transcript)


def test_a_name_whisper_spells_its_own_way_passes() -> None:
    statement = compose_statement("Siobhan Ní Bhriain", "ScaiSpeak", PHRASE)
    heard = (
        "I, Shivon Nee Breen, agree that Skye Speak may create and use a synthetic copy of "
        "my voice. My one-time phrase is amber anchor apple arrow."
    )
    assert _passes(heard, statement)
