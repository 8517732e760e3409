"""A stream's text message is judged in turns: one long message of symbols must not
hold the event loop that serves every other stream's audio, cancels and pings."""

from __future__ import annotations

import asyncio
import time

import pytest

from scaispeak.speak.streaming.text_intake import TextIntake
from scaispeak.speak.synthesis.text import IncrementalSegmenter


async def longest_stall_while(work: asyncio.Task[object]) -> float:
    """The longest the event loop went without running this ticker while ``work`` ran."""
    longest, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    await work
    return longest


@pytest.mark.parametrize(
    "text",
    [
        "&" * 99_000,  # 0.83 s in one go: each 220-character segment normalised whole
        "&. " * 33_000,  # 6,300 short segments: 1.3 s
        "1" * 99_000,  # digits are read: decided without normalising (was 3.1 s)
    ],
    ids=["ampersands", "short-segments", "digits"],
)
async def test_a_long_message_of_symbols_leaves_the_event_loop_free_to_run(text: str) -> None:
    intake = TextIntake(IncrementalSegmenter(), max_chars=100_000)
    stall = await longest_stall_while(asyncio.create_task(intake.feed(text)))
    # Without turns the loop waited 0.8 to 3 s; a turn is 5 ms plus one segment.
    assert stall < 0.25, stall
