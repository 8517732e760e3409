"""Tests for sentence/clause segmentation, one-shot and streaming."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaispeak.speak.synthesis.text import IncrementalSegmenter, Segment, split_segments

PARAGRAPH = (
    "Hi. Dr. Smith paid $42.50 on March 3rd, e.g. for the J. R. R. Tolkien books, "
    "and he said it was 3.14 times cheaper than last year! Was it? Yes... it was. "
    "The shop, which opened in 1999 on St. James St., sells maps, atlases and globes; "
    "it also sells prints (mostly of old harbours), postcards, and a great many other "
    "things that nobody ever seems to buy, although the owner insists they sell well.\n\n"
    "A new paragraph starts here. It is short."
)


def _visible(text: str) -> str:
    return "".join(text.split())


def _texts(segments: list[Segment]) -> list[str]:
    return [segment.text for segment in segments]


def _stream(text: str, seed: int = 0, **limits: int) -> tuple[list[Segment], int]:
    """Feed ``text`` in random 1-4 char tokens; return segments and chars fed at first one."""
    segmenter = IncrementalSegmenter(**limits)
    rng = random.Random(seed)
    segments: list[Segment] = []
    first_at = -1
    position = 0
    while position < len(text):
        token = text[position : position + rng.randint(1, 4)]
        position += len(token)
        segments += segmenter.feed(token)
        if segments and first_at < 0:
            first_at = position
    return segments + segmenter.flush(), first_at


SENTENCES = [
    ("period", "One two. Three four.", ["One two.", "Three four."]),
    ("question_and_exclamation", "Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
    ("ellipsis", "Wait... what? Ok…", ["Wait...", "what?", "Ok…"]),
    ("closing_quote", 'He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
    ("decimal_number", "Pi is 3.14. Next.", ["Pi is 3.14.", "Next."]),
    ("money", "It is $42.50. Cheap.", ["It is $42.50.", "Cheap."]),
    (
        "title_abbreviation",
        "Dr. Smith came. Then Mr. Jones.",
        ["Dr. Smith came.", "Then Mr. Jones."],
    ),
    (
        "fort_and_father",
        "We flew to Ft. Worth. Fr. Brown met us.",
        ["We flew to Ft. Worth.", "Fr. Brown met us."],
    ),
    ("example_abbreviation", "Fruit, e.g. apples. Yes.", ["Fruit, e.g. apples.", "Yes."]),
    ("initials", "J. R. R. Tolkien. Yes.", ["J. R. R. Tolkien.", "Yes."]),
    ("dotted_acronym", "The U.S. Army came.", ["The U.S. Army came."]),
    ("number_abbreviation", "See No. 5 now. No. I won't.", ["See No. 5 now.", "No.", "I won't."]),
    ("month_abbreviation", "Born Jan. 5 here. Ok.", ["Born Jan. 5 here.", "Ok."]),
    ("etc_before_capital", "Cats, etc. Then dogs.", ["Cats, etc.", "Then dogs."]),
    ("etc_before_lowercase", "Cats, etc. and dogs.", ["Cats, etc. and dogs."]),
    (
        "street_type_before_lowercase",
        "We met on Oak Rd. in town. Then at 5 Elm Ct. near it.",
        ["We met on Oak Rd. in town.", "Then at 5 Elm Ct. near it."],
    ),
    (
        "street_type_before_capital",
        "I live on Maple Ln. It is quiet.",
        ["I live on Maple Ln.", "It is quiet."],
    ),
    ("pm_before_capital", "At 5 p.m. We ate.", ["At 5 p.m.", "We ate."]),
    (
        "junior_before_a_day_named_after_him",
        "Martin Luther King Jr. Day is Monday. I met Sam Jr. He waved.",
        ["Martin Luther King Jr. Day is Monday.", "I met Sam Jr.", "He waved."],
    ),
    ("no_space_no_split", "Visit example.com today.", ["Visit example.com today."]),
    ("list_items", "Buy:\n- milk\n- eggs", ["Buy:", "- milk", "- eggs"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in SENTENCES]
)
def test_sentence_splitting(text: str, expected: list[str]) -> None:
    assert _texts(split_segments(text, min_chars=0)) == expected


BOUNDARIES = [
    ("sentence_then_end", "One two. Three four.", ["sentence", "end"]),
    ("paragraph", "One two.\n\nThree four.", ["paragraph", "end"]),
    ("paragraph_without_period", "Title\n\nBody text.", ["paragraph", "end"]),
    ("blank_line_with_spaces", "One.\n  \nTwo.", ["paragraph", "end"]),
    ("single_newline_is_space", "One\ntwo.", ["end"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in BOUNDARIES]
)
def test_boundary_kinds(text: str, expected: list[str]) -> None:
    assert [s.boundary for s in split_segments(text, min_chars=0)] == expected


MERGES = [
    (
        "short_merges_into_next",
        "Hi. This is a longer sentence.",
        ["Hi. This is a longer sentence."],
    ),
    (
        "short_last_merges_into_previous",
        "This is a long sentence. Ok.",
        ["This is a long sentence. Ok."],
    ),
    (
        "not_across_paragraphs",
        "Hi.\n\nThis is a longer sentence.",
        ["Hi.", "This is a longer sentence."],
    ),
    (
        "long_enough_stays",
        "This is long enough. So is this one.",
        ["This is long enough.", "So is this one."],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in MERGES]
)
def test_short_fragments_merge(text: str, expected: list[str]) -> None:
    assert _texts(split_segments(text)) == expected


CLAUSES = [
    ("at_comma", "aaaa bbbb cccc, dddd eeee ffff gggg", ["aaaa bbbb cccc,", "dddd eeee ffff gggg"]),
    (
        "at_semicolon",
        "aaaa bbbb cccc; dddd eeee ffff gggg",
        ["aaaa bbbb cccc;", "dddd eeee ffff gggg"],
    ),
    (
        "before_parenthesis",
        "aaaa bbbb cccc (dddd eeee) ffff",
        ["aaaa bbbb cccc", "(dddd eeee) ffff"],
    ),
    (
        "at_em_dash",
        "aaaa bbbb cccc—dddd eeee ffff gggg",
        ["aaaa bbbb cccc—", "dddd eeee ffff gggg"],
    ),
    (
        "before_conjunction",
        "aaaa bbbb cccc and dddd eeee ffff",
        ["aaaa bbbb cccc", "and dddd eeee ffff"],
    ),
    (
        "at_last_space",
        "aaaa bbbb cccc dddd eeee ffff gggg",
        ["aaaa bbbb cccc dddd", "eeee ffff gggg"],
    ),
    (
        "not_between_number_and_word",
        "aaaa bbbb ccc $3.5 million dd",
        ["aaaa bbbb ccc", "$3.5 million dd"],
    ),
    ("overlong_word_cut_at_the_limit", "a" * 30 + " bb", ["a" * 20, "a" * 10 + " bb"]),
]


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in CLAUSES]
)
def test_long_sentences_split_into_clauses(text: str, expected: list[str]) -> None:
    segments = split_segments(text, max_chars=20, min_chars=4)
    assert _texts(segments) == expected
    assert [s.boundary for s in segments] == ["clause"] * (len(expected) - 1) + ["end"]


def test_clause_cuts_never_split_tokens() -> None:
    text = "It costs $42.50, e.g. 3.14 or 1,250 and Dr. Smith's 10:30 slot " * 12
    tokens = set(text.split())
    for max_chars in (15, 40, 220):
        for segment in split_segments(text, max_chars=max_chars, min_chars=5):
            assert set(segment.text.split()) <= tokens
            assert not segment.text.endswith(("Dr.", "$"))


def test_empty_and_blank_text() -> None:
    assert split_segments("") == []
    assert split_segments(" \n\n\t ") == []


def test_invalid_limits() -> None:
    with pytest.raises(ValueError):
        split_segments("x", max_chars=10, min_chars=20)


_PIECES = [
    *"abc XYZ 0123.,;:!?—()\"'\n",
    *["Dr. ", "e.g. ", "3.14", "$42.50", "J. R. ", "etc. ", "...", "\n\n", " and ", "U.S."],
]
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.integers(8, 80), st.integers(0, 8))
def test_every_visible_character_lands_in_exactly_one_segment(
    text: str, max_chars: int, min_chars: int
) -> None:
    segments = split_segments(text, max_chars=max_chars, min_chars=min_chars)
    assert "".join(_visible(s.text) for s in segments) == _visible(text)
    assert all(s.text and s.text == s.text.strip() for s in segments)
    assert all(len(s.text) <= max_chars for s in segments)
    assert [s.boundary for s in segments[-1:]] in ([], ["end"])


def test_stream_matches_one_shot_text_and_starts_early() -> None:
    streamed, first_at = _stream(PARAGRAPH)
    assert "".join(_visible(s.text) for s in streamed) == _visible(PARAGRAPH)
    assert _visible(" ".join(_texts(split_segments(PARAGRAPH)))) == _visible(PARAGRAPH)
    assert 0 < first_at < len(PARAGRAPH) // 4
    assert streamed[-1].boundary == "end"
    assert any(s.boundary == "paragraph" for s in streamed)


def test_stream_emits_first_clause_at_comma() -> None:
    segmenter = IncrementalSegmenter()
    emitted: list[Segment] = []
    for char in "Well, this is the first clause, and then more":
        emitted += segmenter.feed(char)
    assert emitted == [Segment("Well, this is the first clause,", "clause")]


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(
            ["Pi is about 3.", "14 and more text. Next"], id="decimal_split_across_tokens"
        ),
        pytest.param(["It costs $42", ".", "50 in total. Next"], id="money_split_across_tokens"),
        pytest.param(
            ["For instance e.", "g. apples are good. Next"], id="abbreviation_split_across_tokens"
        ),
    ],
)
def test_stream_never_cuts_inside_a_token(tokens: list[str]) -> None:
    segmenter = IncrementalSegmenter(min_chars=0)
    emitted = [s for token in tokens for s in segmenter.feed(token)] + segmenter.flush()
    text = "".join(tokens)
    assert set(" ".join(_texts(emitted)).split()) <= set(text.split())
    assert emitted[0].boundary == "sentence"


def test_stream_waits_for_next_character_to_decide_boundary() -> None:
    segmenter = IncrementalSegmenter(min_chars=0)
    assert segmenter.feed("The value is 3.") == []
    assert segmenter.feed(" ") == []  # could still be a paragraph break
    assert segmenter.feed("\n\nNext") == [Segment("The value is 3.", "paragraph")]
    assert segmenter.flush() == [Segment("Next", "end")]


def test_stream_cuts_long_text_without_punctuation() -> None:
    words = " ".join(f"word{i}" for i in range(120))
    segmenter = IncrementalSegmenter(max_chars=60, min_chars=10, max_wait_chars=40)
    emitted = [s for word in words.split(" ") for s in segmenter.feed(word + " ")]
    assert len(emitted) > 5
    assert all(len(s.text) <= 60 for s in emitted)
    rest = segmenter.flush()
    assert " ".join(_texts(emitted + rest)) == words


def test_flush_resets() -> None:
    segmenter = IncrementalSegmenter()
    assert segmenter.flush() == []
    segmenter.feed("Some words")
    assert segmenter.flush() == [Segment("Some words", "end")]
    assert segmenter.flush() == []


@settings(max_examples=300, deadline=None)
@given(_TEXTS, st.integers(0, 2**16), st.integers(8, 80))
def test_stream_keeps_every_visible_character(text: str, seed: int, max_chars: int) -> None:
    streamed, _ = _stream(text, seed, max_chars=max_chars, min_chars=4, max_wait_chars=max_chars)
    assert "".join(_visible(s.text) for s in streamed) == _visible(text)
    assert all(s.text for s in streamed)


def test_waiting_text_is_released_up_to_its_last_whole_word() -> None:
    segmenter = IncrementalSegmenter()
    assert segmenter.feed("and then we went to the sta") == []
    assert segmenter.release_words() == [Segment("and then we went to the", "clause")]
    segmenter.feed("tion, and back")
    assert segmenter.flush() == [Segment("station, and back", "end")]


def test_waiting_text_that_ends_a_sentence_is_released_whole() -> None:
    segmenter = IncrementalSegmenter()
    segmenter.feed("Sure, here is the answer.")
    assert segmenter.release_words() == [Segment("Sure, here is the answer.", "sentence")]
    assert not segmenter.buffered


@pytest.mark.parametrize(
    ("waiting", "released"),
    [
        ("Revenue for the 2024 ", "Revenue for"),  # "the 2024 | Q3" reads as a year
        ("It will cost $3.5 ", "It will cost"),  # nor a sum from what it counts
        ("Please call Mr. ", "Please call"),  # nor after "Mr."
        ("See [the guide, part ", "See"),  # nor inside a Markdown link
        ("Ask Mr.", "Ask"),  # "Mr." does not end a sentence
    ],
)
def test_waiting_text_is_not_cut_where_a_clause_cut_would_not_be(
    waiting: str, released: str
) -> None:
    segmenter = IncrementalSegmenter()
    assert segmenter.feed(waiting) == []
    assert segmenter.release_words() == [Segment(released, "clause")]


def test_a_lone_unfinished_word_keeps_waiting() -> None:
    segmenter = IncrementalSegmenter()
    segmenter.feed("  Supercalifrag")
    assert segmenter.release_words() == []
    assert segmenter.buffered


@pytest.mark.parametrize("unit", ["word ", "a, ", "St. "])
def test_a_long_text_without_full_stops_is_split_in_linear_time(unit: str) -> None:
    # Transcripts and lyrics often have no full stop: every clause cut used to rescan the
    # rest of the sentence (quadratic, about 30 s for these 120,000 characters); linear,
    # they take about 0.3 s.
    text = unit * (120_000 // len(unit))
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    segments = split_segments(text)
    assert time.thread_time() - started < 5.0
    assert all(len(segment.text) <= 220 for segment in segments)


def test_a_word_longer_than_a_segment_is_cut_inside() -> None:
    key = "k" * 500
    segments = split_segments(f"Your key is {key} and that is all.", max_chars=220)
    assert all(len(segment.text) <= 220 for segment in segments)
    assert "".join(_visible(s.text) for s in segments) == _visible(
        f"Your key is {key} and that is all."
    )


@pytest.mark.parametrize("characters", [15_000, 50_000])
def test_a_stream_of_text_without_spaces_is_cut_in_linear_time(characters: int) -> None:
    """Pending text that could not be cut was rescanned whole for every token: 15,000
    one-character tokens held the event loop for 19 s, 50,000 for minutes; they take
    0.25 s and 0.9 s now (checked against 5 s, for slow machines)."""
    segmenter = IncrementalSegmenter()
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    emitted = [s for _ in range(characters) for s in segmenter.feed("x")] + segmenter.flush()
    assert time.thread_time() - started < 5.0
    assert all(len(segment.text) <= 220 for segment in emitted)
    assert sum(len(segment.text) for segment in emitted) == characters


@pytest.mark.parametrize("blank", [" ", "\t", "\n", "\u00a0"])
def test_a_stream_of_whitespace_waits_as_one_break_not_all_of_it(blank: str) -> None:
    """Trailing whitespace never forced a cut, so a client sending only spaces grew the
    buffer without bound, each message rescanning all of it: 20,000 took seconds on the
    event loop. The breaks it means (a space, a line, a paragraph) still count."""
    segmenter = IncrementalSegmenter()
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    segmenter.feed("Hello there my friend")
    for _ in range(20_000):
        segmenter.feed(blank)
    assert time.thread_time() - started < 3.0  # about 0.3 s; it took 20 s on this machine
    assert len(segmenter._buffer) <= 220
    said = [s.text for s in segmenter.feed("and you") + segmenter.flush()]
    assert " ".join(said).split() == ["Hello", "there", "my", "friend", "and", "you"]


def test_a_paragraph_break_in_a_run_of_whitespace_is_kept() -> None:
    segmenter = IncrementalSegmenter()
    segmenter.feed("A short line")
    for piece in [" ", "\n", "  ", "\n", "   "]:
        segmenter.feed(piece)
    assert segmenter._buffer == "A short line\n\n"


def _fed(text: str, chunk: int | None) -> list[Segment]:
    """``text`` streamed word by word (``chunk`` None) or ``chunk`` characters at a time."""
    segmenter = IncrementalSegmenter()
    if chunk is None:
        words = text.split(" ")
        pieces = [word + " " for word in words[:-1]] + words[-1:]
    else:
        pieces = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    return [s for piece in pieces for s in segmenter.feed(piece)] + segmenter.flush()


@pytest.mark.parametrize("chunk", [None, 1, 4])
@pytest.mark.parametrize(
    ("text", "together"),
    [
        # Cut at the comma, the year was read as a plain number ("two thousand ...").
        ("Your order will ship on Dec 5, 2026, and arrive soon.", "Dec 5, 2026"),
        ("Monday, Jan 3rd, 2026 at 10:00 AM we open, come by.", "Monday, Jan 3rd, 2026"),
        # Cut after the parenthesis, the area code was read as "eight hundred".
        ("Call us (800) 555-0199 anytime, day or night.", "(800) 555-0199"),
        # Decided on the "E" alone, "p.m." ended a sentence before its time zone.
        ("We meet at 3 p.m. EST tomorrow, then lunch. Then more.", "3 p.m. EST"),
        # Decided on the "D" alone, "Jr." ended a sentence before the day named after him.
        ("We rest on Martin Luther King Jr. Day, then work. Then more.", "King Jr. Day"),
        ("Go to King Jr. University, then home. Then more.", "King Jr. University"),
    ],
)
def test_a_stream_never_cuts_inside_a_date_a_phone_number_or_a_time(
    text: str, together: str, chunk: int | None
) -> None:
    segments = _fed(text, chunk)
    assert any(together in segment.text for segment in segments), _texts(segments)
    assert " ".join(_texts(segments)) == text


def test_a_streams_first_clause_never_passes_the_segment_limit() -> None:
    """Its comma came 360 characters in: the first clause took all of it, against a
    limit of 220 (and an opening then gave up on it)."""
    segmenter = IncrementalSegmenter()
    segments = segmenter.feed("word " * 31)
    segments += segmenter.feed("more " * 40 + "then, the rest")
    segments += segmenter.flush()
    assert segments and all(len(s.text) <= 220 for s in segments)
    assert (
        " ".join(s.text for s in segments).split()
        == ("word " * 31 + "more " * 40 + "then, the rest").split()
    )


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "label", ["the guide, part two", "the guide. Part two has more", "the guide and more"]
)
def test_a_markdown_link_is_never_cut_inside(stream: bool, label: str) -> None:
    """Cut in its label (at a comma, a full stop, before "and"), neither half was a
    whole link, and its URL was read aloud."""
    link = f"[{label}](https://example.com/guide/part-2)"
    text = f"Please read {link} before the call tomorrow."
    if stream:
        segments, _ = _stream(text, 3, max_chars=160, min_chars=4, max_wait_chars=160)
    else:
        segments = split_segments(text)
    assert any(link in s.text for s in segments), segments
