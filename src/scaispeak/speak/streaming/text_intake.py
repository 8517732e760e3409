"""A stream's text on its way to segments.

Text arrives in fragments (LLM tokens). On the way to the segmenter it is made whole
characters (an emoji sliced into two UTF-16 halves by a JavaScript client is joined),
counted against the stream's allowance, its SSML or HTML tags read for what they mean
(a tag, comment or hidden element cut across two fragments waits for its end), and only
segments with something to read aloud come out: one of only emoji, symbols or markup
would be spoken as silence and billed, and a stream, which cannot refuse text it
already accepted, leaves it unsaid (/speak refuses such a text with ``empty_text``).

Segmenting takes tens of microseconds a segment, and judging a segment of symbols
alone ("& & &", "***") a couple of milliseconds: a long message is handled in turns of
a few milliseconds, between which the event loop serves other streams (one message of
99,000 "&" held it 0.8 s, of "&. " 1.3 s).
"""

from __future__ import annotations

import asyncio
import re
import time

from scaispeak.speak.errors import InvalidText, TextTooLong
from scaispeak.speak.synthesis.service import LONE_SURROGATE
from scaispeak.speak.synthesis.text import IncrementalSegmenter, Segment
from scaispeak.speak.synthesis.text.speakable import (
    has_lone_surrogate,
    has_words,
    paired,
    split_trailing_high_surrogate,
)
from scaispeak.speak.synthesis.text.tags import (
    REASONING_OPENS,
    held_back_from,
    reasoning_close,
    spoken_text,
)

_CLOSE_TAG_MAX = 16
"""Longer than "</reasoning >": a close cut in two is found whole in the next fragment."""


class TextIntake:
    def __init__(self, segmenter: IncrementalSegmenter, max_chars: int) -> None:
        self._segmenter = segmenter
        self._max_chars = max_chars
        self._received = 0
        self._half_character = ""  # a UTF-16 first half awaiting its second
        self._open_tag = ""  # "<break ti": a tag awaiting its end in the next fragment
        self._reasoning: re.Pattern[str] | None = None  # the close of an open <think>
        self._reasoning_tail = ""  # the last characters scanned for it

    @property
    def buffered(self) -> bool:
        return self._segmenter.buffered

    async def feed(self, text: str) -> list[Segment]:
        """The segments ``text`` completes. A half character that pairs with nothing
        (422 ``invalid_text``), or text past the allowance (413), is dropped whole."""
        # Once before the text is scanned, which may be huge: even were it all halves of
        # pairs, half its length would be past the allowance.
        self._check_allowance(len(text) // 2)
        text = self._whole_characters(text)
        self._check_allowance(len(text))
        self._received += len(text)
        text = self._without_tags(text)
        kept: list[Segment] = []
        turn = _Turn()
        # At least once: a fragment of markup only ("<emphasis>") is text arriving too,
        # and what waited before it waits afresh (segment.py).
        for start in range(0, max(len(text), 1), _SLICE_CHARS):
            for segment in self._segmenter.feed(text[start : start + _SLICE_CHARS]):
                if has_words(segment.text):
                    kept.append(segment)
                await turn.maybe_yield()
        return kept

    def flush(self) -> list[Segment]:
        """Everything buffered, an unfinished tag's text included (it never ended). A
        half character still waiting for its pair is dropped: the turn ended without
        it, and joined to the next turn's first piece it had that piece refused."""
        tail, self._open_tag, self._half_character = self._open_tag, "", ""
        self._reasoning = None  # thoughts never closed are still thoughts: not said
        segments = self._segmenter.feed(spoken_text(tail))
        return _speakable(segments + self._segmenter.flush())

    def cancel(self) -> None:
        """Forget the utterance's text, a half character awaiting its pair with it: the
        next reply's first piece must not be joined to it (and refused)."""
        self._segmenter.flush()
        self._half_character = self._open_tag = ""
        self._reasoning = None

    def _check_allowance(self, chars: int) -> None:
        if self._received + chars > self._max_chars:
            raise TextTooLong(
                f"This stream may send {self._max_chars} characters in all; this text was dropped.",
                limit=self._max_chars,
            )

    def release_words(self) -> list[Segment]:
        return _speakable(self._segmenter.release_words())

    @property
    def waited(self) -> bool:
        """Words were released, and no text came since (segment.py)."""
        return self._segmenter.waited

    def _without_tags(self, text: str) -> str:
        """SSML and HTML read for what they mean (tags.py), a tag, comment or hidden
        element left open at the end of this fragment kept back until its end arrives.
        A reasoning model's thoughts (``<think>`` ...) are dropped as they come, however
        long: held back like other hidden elements, those past 400 characters were
        released and read aloud (helper-97)."""
        said: list[str] = []
        text, self._open_tag = self._open_tag + text, ""
        while text:
            if self._reasoning is not None:
                text = self._past_reasoning(text)
                continue
            opened = REASONING_OPENS.search(text)
            if opened is None:
                break
            said.append(spoken_text(text[: opened.start()]))
            self._reasoning = reasoning_close(opened["name"])
            self._reasoning_tail, text = "", text[opened.end() :]
        cut = held_back_from(text)
        text, self._open_tag = (text, "") if cut < 0 else (text[:cut], text[cut:])
        return "".join(said) + spoken_text(text)

    def _past_reasoning(self, text: str) -> str:
        """What follows the open thoughts' close in ``text``, or "" if they go on (only
        their last characters are kept, to find a close cut across two fragments)."""
        assert self._reasoning is not None
        scanned = self._reasoning_tail + text
        close = self._reasoning.search(scanned)
        if close is None:
            self._reasoning_tail = scanned[-_CLOSE_TAG_MAX:]
            return ""
        self._reasoning = None
        return scanned[close.end() :]

    def _whole_characters(self, text: str) -> str:
        """A trailing first half of a UTF-16 pair waits for the next fragment."""
        text, self._half_character = split_trailing_high_surrogate(
            paired(self._half_character + text)
        )
        if has_lone_surrogate(text):
            raise InvalidText(LONE_SURROGATE)
        return text


_SLICE_CHARS = 2048
"""A long message reaches the segmenter in slices of this many characters (it is fed
token by token anyway), so no one call holds the loop long."""


def _speakable(segments: list[Segment]) -> list[Segment]:
    return [s for s in segments if has_words(s.text)]


class _Turn:
    """Lets the event loop run once a message's handling has held it for ``SECONDS``."""

    SECONDS = 0.005

    def __init__(self) -> None:
        self._began = time.perf_counter()

    async def maybe_yield(self) -> None:
        if time.perf_counter() - self._began > self.SECONDS:
            await asyncio.sleep(0)
            self._began = time.perf_counter()
