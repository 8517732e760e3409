"""Readings fixed after review: clock times with seconds, Indian digit grouping, check
marks, and Markdown that reaches the normaliser one segment at a time."""

from __future__ import annotations

import pytest

from scaispeak.speak.synthesis.text import IncrementalSegmenter, normalize_text, split_segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It ran 1:02:03 in total.", "It ran one hour, two minutes and three seconds in total."),
        ("finished in 0:45:00.", "finished in forty-five minutes."),
        ("took 2:00:01", "took two hours and one second"),
        ("It began at 10:30:15.", "It began at ten thirty and fifteen seconds."),
        ("at 10:30:00 pm", "at ten thirty PM"),
        ("at 7:05", "at seven oh five"),
        ("a time of 2:05:30", "a time of two hours, five minutes and thirty seconds"),
        ("The film runs for 2:15:00.", "The film runs for two hours and fifteen minutes."),
        (
            "He finished after 2:05:30.",
            "He finished after two hours, five minutes and thirty seconds.",
        ),
        # After "is", "was" or "for" alone a time with seconds is a time of day.
        ("The time is 10:30:15.", "The time is ten thirty and fifteen seconds."),
        ("Set an alarm for 06:30:00.", "Set an alarm for six thirty."),
        ("The deadline is 17:00:00 today.", "The deadline is seventeen hundred today."),
    ],
)
def test_a_clock_time_keeps_its_seconds(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("₹1,00,000 was paid", "one hundred thousand rupees was paid"),
        ("1,00,000 people", "one hundred thousand people"),
        (
            "12,34,56,789 rows",
            "one hundred twenty-three million four hundred fifty-six "
            "thousand seven hundred eighty-nine rows",
        ),
        ("the 1,00,000th visitor", "the one hundred thousandth visitor"),
        ("1,000 and 100,000", "one thousand and one hundred thousand"),
    ],
)
def test_indian_digit_grouping_is_read_as_one_number(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_check_marks_and_crosses_are_said_but_their_emoji_are_not() -> None:
    assert normalize_text("Tasks: ✓ done ✗ failed") == "Tasks: check done cross failed"
    assert normalize_text("Backups ✔ restores ✘") == "Backups check restores cross"
    assert normalize_text("✅ Deployed ❌") == "Deployed"


def test_markdown_lines_are_read_after_segmentation() -> None:
    markdown = "# Results\n- Apples are good\n- Pears are better\n* star item\n## Next up\nMore."
    spoken = [normalize_text(segment.text) for segment in split_segments(markdown)]
    assert spoken == ["Results. Apples are good", "Pears are better", "star item. Next up. More."]


def test_markdown_lines_streamed_token_by_token_are_read_the_same() -> None:
    markdown = "Steps:\n- Mix the flour\n- Bake it for an hour\n> Enjoy your bread\n"
    stream = IncrementalSegmenter()
    segments = [s for token in markdown.split(" ") for s in stream.feed(token + " ")]
    segments += stream.flush()
    spoken = [normalize_text(segment.text) for segment in segments]
    assert spoken == ["Steps: Mix the flour", "Bake it for an hour, Enjoy your bread"]


def test_plain_line_breaks_still_collapse_to_spaces() -> None:
    segments = split_segments("A line that wraps\nin the middle of a sentence.")
    assert [s.text for s in segments] == ["A line that wraps in the middle of a sentence."]
