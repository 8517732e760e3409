"""SSML and HTML are read for what they mean: the words, pauses and boundaries, never
the tags ("<speak>Hello</speak>" was read "speak Hello slash speak")."""

from __future__ import annotations

import time

import pytest

from scaispeak.speak.streaming.text_intake import TextIntake
from scaispeak.speak.synthesis.text import IncrementalSegmenter, normalize_text, split_segments
from scaispeak.speak.synthesis.text.tags import open_tag_at_end, spoken_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('<speak>Hello <break time="300ms"/> world</speak>', " Hello ,  world"),
        ('Hello <break time="1.5s"/>world', "Hello \n\nworld"),
        ('a<break strength="x-strong"/>b<break strength="none"/>c', "a\n\nb c"),
        ('Hello <emphasis level="strong">world</emphasis>', "Hello world"),
        ("<p>One.</p><p>Two.</p>", "\n\nOne.\n\n\n\nTwo.\n\n"),
        ('<sub alias="World Wide Web">WWW</sub> grew', "World Wide Web grew"),
        ('<say-as interpret-as="characters">abc</say-as>', "A B C"),
        ('<say-as interpret-as="date">12/25</say-as>', "12/25"),
        ('<amazon:effect name="whispered">quiet</amazon:effect>', "quiet"),
        ("<desc>a dog barks</desc>Hello", " Hello"),
        ("<think>\nThe user asks 2+2.\n</think>\n\nIt is 4.", " \n\nIt is 4."),
        ("It is 4. <think>cut off mid-thought", "It is 4. "),
        ("<SCRIPT>if (a < b) go()</script>ok", " ok"),
        ("a <!-- note --> b", "a   b"),
        ("a <!-- never closed b", "a   never closed b"),
        ('<?xml version="1.0"?><!-- note --><b>bold</b>', "  bold"),
        ("AT&amp;T &lt;3 &#8364;5 &copy R&D", "AT&T <3 €5 &copy R&D"),
        # Text copied from web pages: HTML's named entities, with their semicolon.
        (
            "It&rsquo;s 5&nbsp;km &mdash; Caf&eacute; &pound;9",
            "It\u2019s 5\xa0km \u2014 Caf\xe9 \xa39",
        ),
        ("AT&T; &NoSuchName; &copy;", "AT&T; &NoSuchName; \xa9"),
        # Not tags: comparisons, unknown names, a known name without an attribute's "=".
        ("if a < b and c > d", "if a < b and c > d"),
        ("if a<b and c>d", "if a<b and c>d"),
        ("<foo>bar</foo>", "<foo>bar</foo>"),
    ],
)
def test_tags_are_read_for_what_they_mean(text: str, expected: str) -> None:
    assert spoken_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '<speak>I will wait here.<break time="300ms"/> Then I leave.</speak>',
        'I will wait here. <break time="500ms"/> Then I leave.',
        "I will wait here!<break/>Then I leave.",
    ],
)
def test_a_short_break_after_a_sentence_keeps_the_sentences_apart(text: str) -> None:
    """Its comma hid the sentence's end ("here., Then"): the two were read as one
    sentence, and the break shortened the pause to a comma's (290 ms, 510 ms without
    it; helper-87). The sentence's own pause is already the longer one."""
    spoken = [normalize_text(s.text) for s in split_segments(spoken_text(text))]
    assert spoken[0] in ("I will wait here.", "I will wait here!")
    assert spoken[1:] == ["Then I leave."]
    assert spoken_text('Wait,<break time="200ms"/> then') == "Wait,  then"  # one comma


def test_ssml_reaches_the_engine_without_its_tags() -> None:
    ssml = (
        '<?xml version="1.0"?><speak version="1.1"><p><s>Welcome back.</s>'
        '<s>Your code is <say-as interpret-as="characters">XK9</say-as>.</s></p>'
        '<break time="1s"/><prosody rate="slow">Goodbye.</prosody></speak>'
    )
    pieces = [normalize_text(s.text) for s in split_segments(spoken_text(ssml))]
    spoken = " ".join(pieces)
    assert "<" not in spoken and "speak" not in spoken and "slash" not in spoken
    assert spoken == "Welcome back. Your code is X K nine. Goodbye."


@pytest.mark.parametrize(
    ("text", "held_from"),
    [
        ("hello <break ti", 6),
        ('hello <break time="1', 6),
        ("hello <", 6),
        ("hello </sp", 6),
        ("say <mstts:express", 4),
        ("a < b", -1),
        ("x<y", -1),
        ("x <bold", -1),
        ("done <br/>", -1),
    ],
)
def test_a_stream_holds_back_only_a_tag_cut_off_at_its_end(text: str, held_from: int) -> None:
    assert open_tag_at_end(text) == held_from


async def test_a_tag_split_across_stream_messages_is_never_spoken() -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    pieces = ["<spe", "ak>Hello there, ", "my friend <bre", 'ak time="2s"/', "> and good", "bye."]
    segments = [s for piece in pieces for s in await intake.feed(piece)] + intake.flush()
    spoken = " ".join(normalize_text(s.text) for s in segments)
    assert "<" not in spoken and "speak" not in spoken and "break" not in spoken
    assert spoken.split() == ["Hello", "there,", "my", "friend", "and", "goodbye."]


@pytest.mark.parametrize(
    "pieces",
    [
        ["Hello my friend. <desc>", "internal note do not read", "</desc> Goodbye now, friend."],
        ["Hello my friend. <!--", " internal note ", "--> Goodbye now, friend."],
        ["Hello my friend. <SCRIPT>track(", ")</script> Goodbye now, friend."],
        # A reasoning model's thoughts, token by token: they were read aloud, tags and
        # all ("think let me reason slash think", helper-96).
        [
            "Hello my friend. <thi",
            "nk>The user wants",
            " a goodbye.</th",
            "ink> Goodbye now, friend.",
        ],
        ["Hello my friend. <thinking>", "step one", "</thinking> Goodbye now, friend."],
    ],
)
async def test_hidden_text_split_across_stream_messages_is_never_spoken(pieces: list[str]) -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    segments = [s for piece in pieces for s in await intake.feed(piece)] + intake.flush()
    spoken = [normalize_text(s.text) for s in segments]
    assert spoken == ["Hello my friend.", "Goodbye now, friend."]


@pytest.mark.parametrize("size", [100, 3_000, 60_000])
async def test_a_reasoning_models_thoughts_of_any_length_are_never_spoken(size: int) -> None:
    """Held back like a <desc>, thoughts past 400 characters were released and read
    aloud (helper-97); a real model thinks for thousands of characters."""
    thoughts = ("Let me reason about step one. " * (size // 30))[:size]
    text = f"Sure. <think>{thoughts}</think> The answer is four. <THINKING>more</THINKING> Bye now."
    intake = TextIntake(IncrementalSegmenter(), max_chars=100_000)
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    segments = [s for piece in pieces for s in await intake.feed(piece)] + intake.flush()
    spoken = " ".join(normalize_text(s.text) for s in segments)
    assert spoken.split() == ["Sure.", "The", "answer", "is", "four.", "Bye", "now."]


async def test_thoughts_never_closed_are_not_spoken_at_the_end() -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    segments = await intake.feed("Hello there, friend. <think>" + "hmm " * 200)
    segments += intake.flush()
    assert " ".join(normalize_text(s.text) for s in segments) == "Hello there, friend."


async def test_a_flush_speaks_what_was_held_back_as_text() -> None:
    """The held tail went to the segmenter at a flush, but what that returned was
    dropped: every sentence after an unclosed <title> was lost, and "<!--" was spoken."""
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    pieces = ["Put the page name in the <title> element. ", "Then add <b>bold</b> words."]
    segments = [s for piece in pieces for s in await intake.feed(piece)] + intake.flush()
    spoken = [normalize_text(s.text) for s in segments]
    assert spoken == ["Put the page name in the element.", "Then add bold words."]
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    segments = (
        await intake.feed("Hello there. <!-- note: ")
        + await intake.feed("internal")
        + intake.flush()
    )
    assert "<" not in " ".join(s.text for s in segments)
    assert normalize_text(segments[0].text) == "Hello there."


async def test_an_entity_split_across_stream_messages_is_one_character() -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    segments = (
        await intake.feed("Tom &a") + await intake.feed("mp; Jerry are friends.") + intake.flush()
    )
    assert [normalize_text(s.text) for s in segments] == ["Tom and Jerry are friends."]


async def test_an_unfinished_tag_at_the_end_of_a_stream_is_read_as_text() -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    segments = await intake.feed("Is a <b") + intake.flush()
    assert [s.text for s in segments] == ["Is a <b"]


@pytest.mark.parametrize(
    "text",
    [
        # A lazy run of attributes before "alias=" took 169 s on the first.
        "<sub" + " " * 100_000,
        "<sub " + "alias='x' " * 10_000,
        "<say-as " + "interpret-as='characters' " * 4_000,
        "<!--" * 125_000,
        "<script>" * 60_000,
        "<desc>a " * 60_000,
        "<b " * 33_000,
        "&#" * 50_000,
    ],
)
async def test_markup_is_read_in_linear_time(text: str) -> None:
    started = time.thread_time()  # this thread's CPU: a loaded machine does not fail it
    spoken_text(text)
    intake = TextIntake(IncrementalSegmenter(), max_chars=len(text) + 10)
    for start in range(0, min(len(text), 20_000), 50):  # a stream of small pieces
        await intake.feed(text[start : start + 50])
    assert time.thread_time() - started < 3.0


async def test_a_half_character_left_at_a_flush_does_not_spoil_the_next_turn() -> None:
    """The turn ended inside an emoji; its first half then joined the next turn's first
    piece, which was refused (invalid_text) and left unsaid."""
    intake = TextIntake(IncrementalSegmenter(), max_chars=10_000)
    await intake.feed("Thanks a lot for asking \ud83d")
    assert [s.text for s in intake.flush()] == ["Thanks a lot for asking"]
    segments = await intake.feed("Next turn starts here. And goes on.") + intake.flush()
    assert [s.text for s in segments] == ["Next turn starts here.", "And goes on."]
