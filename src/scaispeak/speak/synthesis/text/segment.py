"""Cut text into speakable segments, all at once (``split_segments``) or while it streams in.

A segment is what one synthesis call speaks; its ``boundary`` is the pause that follows.
Text is split into paragraphs (blank lines), then sentences, and sentences longer than
``max_chars`` into clauses. Fragments shorter than ``min_chars`` ("Hi.") are merged into a
neighbour so the voice does not speak them with odd, isolated prosody. Every
non-whitespace character of the input lands in exactly one segment, in order; segment
text has its whitespace collapsed to single spaces, but for the line breaks around
Markdown's headings and list items. Normalisation is not done here.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import NamedTuple

from scaispeak.speak.synthesis.text.boundaries import (
    Boundary,
    Cut,
    clause_cut,
    ends_finished_sentence,
    final_stop_in_doubt,
    first_clause_cut,
    last_word_cut,
    sentence_cuts,
)

_MERGEABLE: frozenset[Boundary] = frozenset({"clause", "sentence"})
# A Markdown heading, list item, quote or code fence: its line break is kept in the
# segment, since the normaliser's Markdown rules find these marks only at a line's start.
_MARKDOWN_LINE = re.compile(
    r"(?:#{1,6}|[*•+>-]|\d{1,2}[.)])\s|```|~~~|\d\ufe0f?\u20e3|\|"
    r"|(\*\*|__)[^*_]+\1$"  # a bold line, a heading
    r"|[A-Z][\w ]{0,30}:\s"  # a label's line ("Name: John\nPhone: 555-0100")
)


@dataclass(frozen=True)
class Segment:
    """One piece of text to synthesise and the pause that follows it."""

    text: str
    boundary: Boundary


def _squeezed_tail(text: str) -> str:
    """``text`` with a trailing whitespace run longer than two characters cut to what
    it says: a paragraph break, a line break or a space.

    Trailing whitespace never makes a cut come sooner (only visible text counts toward
    ``max_wait_chars``), so a stream sent nothing but spaces kept every one of them,
    rescanned on each message: quadratic time on the event loop."""
    run = len(text) - len(text.rstrip())
    if run <= 2:
        return text
    newlines = text.count("\n", len(text) - run)
    return text[: len(text) - run] + ("\n\n" if newlines > 1 else "\n" if newlines else " ")


class _Span(NamedTuple):
    start: int
    end: int
    kind: Boundary


class _Limits(NamedTuple):
    max_chars: int
    min_chars: int


def _limits(max_chars: int, min_chars: int) -> _Limits:
    if max_chars < 1 or not 0 <= min_chars <= max_chars:
        raise ValueError(f"need 0 <= min_chars <= max_chars, 1 <= max_chars: {min_chars=}")
    return _Limits(max_chars, min_chars)


def _trimmed(text: str, start: int, end: int, kind: Boundary) -> _Span | None:
    """The span without its surrounding whitespace, or None when only whitespace is left."""
    piece = text[start:end]
    stripped = piece.lstrip()
    if not stripped:
        return None
    start += len(piece) - len(stripped)
    return _Span(start, start + len(stripped.rstrip()), kind)


def _split_long(text: str, span: _Span, limits: _Limits) -> list[_Span]:
    """Cut a sentence longer than max_chars into clauses, each at most max_chars if possible."""
    pieces: list[_Span] = []
    while span.end - span.start > limits.max_chars:
        cut = clause_cut(
            text, span.start, span.end, max_chars=limits.max_chars, min_chars=limits.min_chars
        )
        head = _trimmed(text, span.start, cut, "clause") if cut else None
        rest = _trimmed(text, cut, span.end, span.kind) if cut else None
        if head is None or rest is None:
            break
        pieces.append(head)
        span = rest
    return [*pieces, span]


def _spans(text: str, cuts: list[Cut], stop: int, limits: _Limits) -> list[_Span]:
    """The pieces of ``text[:stop]`` between ``cuts``, long sentences cut into clauses."""
    spans: list[_Span] = []
    start = 0
    for cut in [*(c for c in cuts if c.position < stop), Cut(stop, "end")]:
        span = _trimmed(text, start, cut.position, cut.kind)
        start = cut.position
        if span is not None:
            spans.extend(_split_long(text, span, limits))
    return spans


def _merge_short(spans: list[_Span], limits: _Limits) -> list[_Span]:
    """Merge spans under min_chars into the shorter neighbour that can take them.

    Never across a paragraph break, and never into a result longer than max_chars.
    """
    merged = list(spans)
    i = 0
    while i < len(merged):
        span = merged[i]
        after = merged[i + 1] if i + 1 < len(merged) else None
        before = merged[i - 1] if i > 0 else None
        if after and not (span.kind in _MERGEABLE and after.end - span.start <= limits.max_chars):
            after = None
        if before and not (
            before.kind in _MERGEABLE and span.end - before.start <= limits.max_chars
        ):
            before = None
        if span.end - span.start >= limits.min_chars or not (before or after):
            i += 1
        elif after and (before is None or after.end - after.start <= before.end - before.start):
            merged[i : i + 2] = [_Span(span.start, after.end, after.kind)]
        elif before:
            merged[i - 1 : i + 1] = [_Span(before.start, span.end, span.kind)]
    return merged


def _collapsed(chunk: str) -> str:
    """Whitespace runs as one space, except a line break before or after a Markdown
    heading, list item, quote or code fence ("Steps:\\n- Mix\\n- Bake"), which stays a
    line break."""
    lines = [" ".join(line.split()) for line in chunk.splitlines()]
    lines = [line for line in lines if line]
    joined = lines[:1]
    for before, line in itertools.pairwise(lines):
        markdown = _MARKDOWN_LINE.match(line) or _MARKDOWN_LINE.match(before)
        joined.append(("\n" if markdown else " ") + line)
    return "".join(joined)


def _segments(text: str, spans: list[_Span]) -> list[Segment]:
    return [Segment(_collapsed(text[s.start : s.end]), s.kind) for s in spans]


def split_segments(text: str, *, max_chars: int = 220, min_chars: int = 12) -> list[Segment]:
    """Split ``text`` into paragraph, sentence and (for long sentences) clause segments.

    The last segment's boundary is "end". Sentence ends are ., ?, !, … (optionally
    followed by closing quotes) before whitespace, except in numbers ("3.14"), after
    abbreviations ("Dr.", "e.g.") and initials ("J. R. R."). Clause cuts fall on
    , ; : — ( ), then before conjunctions, then on the last space; inside a word only when the
    word alone is longer than ``max_chars`` (a key, a URL).
    """
    limits = _limits(max_chars, min_chars)
    spans = _merge_short(_spans(text, sentence_cuts(text), len(text), limits), limits)
    if spans:
        spans[-1] = spans[-1]._replace(kind="end")
    return _segments(text, spans)


def split_for_engine(spoken: str, max_chars: int) -> list[str]:
    """Cut normalised text into pieces of at most ``max_chars`` for separate engine calls.

    Normalising digits and symbols can make a segment several times longer than its
    written ``max_chars`` (a key, a hash, a long number). An engine renders each call
    whole, in memory that grows with its audio: a 2,000-character token took a server
    past 20 GB. Ordinary segments come back as one piece; longer text is cut after the
    last clause (a word ending in , ; :) that leaves a piece of a third of ``max_chars``
    or more, else between words, and inside a word only when the word alone is too long.
    Each piece is read as an utterance of its own: a list of seven-digit numbers was cut
    at "eight hundred | ninety", heard as two numbers (helper-87).
    """
    pieces: list[str] = []
    words: list[str] = []
    length = 0  # of " ".join(words)
    for word in spoken.split():
        while len(word) > max_chars:
            pieces.extend([" ".join(words)] if words else [])
            pieces.append(word[:max_chars])
            words, length, word = [], 0, word[max_chars:]
        while words and length + 1 + len(word) > max_chars:  # what a clause cut left may
            cut = _clause_cut(words, word, max_chars // 3)  # still be too long with this word
            pieces.append(" ".join(words[:cut]))
            words = words[cut:]
            length = len(" ".join(words))
        length += len(word) + (1 if words else 0)
        words.append(word)
    return [*pieces, " ".join(words)] if words or not pieces else pieces


def _clause_cut(words: list[str], next_word: str, min_chars: int) -> int:
    """How many of ``words`` to render: through the last one ending a clause, where
    that leaves at least ``min_chars``; else through the last word that does not cut a
    number's reading in two; else all of them."""
    length = len(" ".join(words))
    between_numbers = len(words)
    if _inside_a_number(words[-1], next_word):
        between_numbers = 0
    for index in range(len(words) - 1, 0, -1):
        length -= len(words[index]) + 1
        if length < min_chars:
            break
        if words[index - 1][-1] in ",;:":
            return index
        if not between_numbers and not _inside_a_number(words[index - 1], words[index]):
            between_numbers = index
    return between_numbers or len(words)


_SCALES = frozenset({"hundred", "thousand", "million", "billion", "trillion", "point"})
_BINDING = _SCALES | {"and", "minus"}


def _inside_a_number(before: str, after: str) -> bool:
    """Whether a cut between two words of normalised text falls inside a number's
    reading: "eight hundred | ninety", "two | million" (a list of seven-digit numbers
    was cut there and heard as four numbers, helper-94). "nineteen | two million" is
    between two numbers, a place as good as a clause's."""
    return after.rstrip(".,;:!?").lower() in _SCALES or before.lower() in _BINDING


class IncrementalSegmenter:
    """Segment text that arrives in fragments (LLM tokens), emitting segments early.

    ``feed`` returns the segments that are complete: a sentence end counts once the next
    visible character has arrived (so "3." followed by "5" is a number, and a paragraph
    break is told from a space). Until something has been emitted, the first clause is
    released as soon as it ends in , ; : — and is at least ``min_chars`` long, to cut
    time to first audio. If more than ``max_wait_chars`` are pending without a sentence
    end, the text is cut at a clause; past ``max_chars`` at the last word boundary (or
    inside a word longer than that), so what waits is never more than ``max_chars``.
    ``flush`` returns everything still buffered and starts a new utterance;
    ``release_words`` speaks the complete words of text that has waited too long.
    """

    def __init__(self, max_chars: int = 220, min_chars: int = 12, max_wait_chars: int = 160):
        self._limits = _limits(max_chars, min_chars)
        self._max_wait_chars = min(max(max_wait_chars, min_chars), max_chars)
        self._buffer = ""
        self._started = False
        self._waited = False
        """Whether words were released since the last fragment: the text left has then
        waited twice, and a token that was to go on with it would have come."""

    def feed(self, fragment: str) -> list[Segment]:
        """Add ``fragment`` and return the segments that are now complete.

        A large fragment goes in ``max_chars`` at a time, as if it had streamed in: each
        emitted clause rescans the buffer, so one 100,000-character fragment fed whole
        took seconds (quadratic) on the event loop."""
        emitted: list[Segment] = []
        self._waited = False
        step = self._limits.max_chars
        for start in range(0, max(len(fragment), 1), step):
            self._buffer = _squeezed_tail(self._buffer + fragment[start : start + step])
            while batch := self._take_sentences() or self._take_clause():
                emitted.extend(batch)
        return emitted

    @property
    def buffered(self) -> bool:
        """Whether text that has not been emitted yet is waiting (whitespace aside)."""
        return bool(self._buffer.strip())

    @property
    def waited(self) -> bool:
        """Words were released and no fragment came since: what is left has waited twice."""
        return self._waited

    def release_words(self) -> list[Segment]:
        """Emit the buffered complete words, because they have waited too long.

        Text ending a sentence is taken as a finished one (the end of an answer whose
        sender never flushed). Otherwise the text goes up to the last cut between words
        that a clause cut would take: never in a word, nor inside a number ("$3.5 |
        million"), a link or after "Mr."; the last word may still be growing. What
        might go on with the next token ("$182." then "52", "in " then "1969") is kept
        back the first time, and released the second, if no text came between.
        """
        text = self._buffer
        start = len(text) - len(text.lstrip())
        kind: Boundary
        waited_twice, self._waited = self._waited, True
        if ends_finished_sentence(text, start):
            if not waited_twice and final_stop_in_doubt(text, start):
                return []  # "The answer is 42." may go on ("42.5"): all of it waits once
            cut, kind = len(text), "sentence"
        else:
            cut, kind = (last_word_cut(text, start, waited_twice=waited_twice) or start), "clause"
        span = _trimmed(text, start, cut, kind)
        return self._emit([span], cut) if span else []

    def flush(self) -> list[Segment]:
        """Return whatever is buffered (end of input); the last segment ends with "end"."""
        text, self._buffer, self._started = self._buffer, "", False
        max_chars, min_chars = self._limits
        return split_segments(text, max_chars=max_chars, min_chars=min_chars)

    def _emit(self, spans: list[_Span], consumed: int) -> list[Segment]:
        segments = _segments(self._buffer, spans)
        self._buffer = self._buffer[consumed:]
        self._started = self._started or bool(segments)
        return segments

    def _take_sentences(self) -> list[Segment]:
        """Emit every confirmed sentence; hold a short last one back to merge it forward."""
        cuts = sentence_cuts(self._buffer, open_end=True)
        if not cuts:
            return []
        consumed = cuts[-1].position
        spans = _spans(self._buffer, cuts, consumed, self._limits)
        if not spans:
            return []
        spans[-1] = spans[-1]._replace(kind=cuts[-1].kind)
        spans = _merge_short(spans, self._limits)
        held = spans[-1]
        if held.end - held.start < self._limits.min_chars and held.kind in _MERGEABLE:
            spans.pop()  # still too short: wait to merge it with the next sentence
            consumed = held.start
        return self._emit(spans, consumed) if spans else []

    def _take_clause(self) -> list[Segment]:
        """Emit a clause early: the first one of an utterance, or when too much is pending."""
        text = self._buffer
        start = len(text) - len(text.lstrip())
        cut = None
        if not self._started:
            cut = first_clause_cut(text, start, min_chars=self._limits.min_chars)
            if cut is not None and cut - start > self._limits.max_chars:
                cut = None  # a comma far off: cut within the limit below instead
        if cut is None and len(text.rstrip()) - start > self._max_wait_chars:
            overflowing = len(text) - start > self._limits.max_chars
            max_chars, min_chars = self._limits
            cut = clause_cut(
                text, start, len(text), max_chars=max_chars, min_chars=min_chars, words=overflowing
            )
        span = _trimmed(text, start, cut, "clause") if cut else None
        return self._emit([span], cut) if span and cut else []
