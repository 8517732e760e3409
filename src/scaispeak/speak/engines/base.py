"""The engine interface: every synthesis engine looks like this to the pipeline.

Engines are synchronous and CPU/GPU bound; the pipeline runs them in a bounded
thread pool, off the event loop. An engine never sees HTTP, tenants or formats: it
turns one already-normalised text segment into mono float32 PCM at its own rate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.float32]
"""Mono audio, float32 samples in [-1, 1]."""


class Priority(IntEnum):
    """How urgent a synthesis call is: the inference pool and batching engines serve the
    lowest value first."""

    FIRST_AUDIO = 0
    """A listener hears silence until this is done: a stream's first clause (or its
    opening, synthesis/openings.py)."""
    DUE_SOON = 1
    """The rest of a segment whose opening is playing: due within the opening's length.
    After every first audio (never on a reserved thread), before everything else."""
    NORMAL = 2
    """The rest of a stream, and inline /speak requests."""
    BULK = 3
    """Asynchronous jobs: run when nothing interactive waits."""


@runtime_checkable
class WrittenTextEngine(Protocol):
    """An engine that reads written text itself, as a managed service does ("$5" as
    "five dollars"): the pipeline hands it a segment as written (tags removed), not
    our normalisation, whose expansion ("©" is "copyright") the upstream would bill."""

    reads_written_text: bool


@dataclass(frozen=True)
class LicenceInfo:
    """Where a voice comes from and under which terms (read from package metadata)."""

    licensor: str
    engine_licence: str
    voice_licence: str
    source: str
    terms: str = ""


@dataclass(frozen=True)
class EngineVoice:
    """A voice an engine offers out of the box (seeded as a global voice)."""

    key: str
    """Engine-local voice name, e.g. ``en_US-joe-medium``."""
    name: str
    language: str
    """BCP-47 tag of the language the voice speaks well."""
    description: str
    licence: LicenceInfo
    tags: tuple[str, ...] = field(default_factory=tuple)


class EngineError(Exception):
    """An engine failed to synthesize a segment."""


class UnknownEngineVoice(EngineError):
    """The engine does not offer the requested voice key."""


class OutdatedEngineVoice(EngineError):
    """The engine holds the voice in a form it can no longer read (a cloned voice fitted
    by another model or for other stock tables): it must be fitted again."""


class EngineUnavailable(EngineError):
    """The engine cannot take work now (an upstream is down, a circuit is open);
    ``retry_after_s`` where it knows when it may again (an upstream's 429)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamFailed(EngineError):
    """An engine that fronts another service got a bad answer from it."""


@runtime_checkable
class Engine(Protocol):
    """A text-to-speech engine behind the synthesis pipeline."""

    name: str
    """Stable engine id stored with voices, e.g. ``piper``."""
    sample_rate: int
    """Rate of the PCM that ``synthesize`` returns."""

    def voices(self) -> list[EngineVoice]:
        """The voices this engine ships with."""
        ...

    def warm(self) -> None:
        """Load models into memory so the first request is not slow. Idempotent."""
        ...

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        """Speak one segment (a sentence or clause) and return its PCM.

        ``speed`` > 1 speaks faster. Blocking; called from a worker thread.
        Raises ``UnknownEngineVoice`` for a voice it does not offer and
        ``EngineError`` for anything else.
        """
        ...


@runtime_checkable
class AsyncEngine(Protocol):
    """An engine whose work happens elsewhere (a relay's upstream, a GPU batch
    scheduler): awaited on the event loop, so it holds no inference thread."""

    name: str
    sample_rate: int

    def voices(self) -> list[EngineVoice]: ...

    def warm(self) -> None: ...

    async def synthesize_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> Pcm:
        """Like ``Engine.synthesize``, for engines whose work happens elsewhere (an
        upstream service, a GPU batch scheduler): awaited, holding no thread meanwhile.
        ``priority`` is how urgent the call is, for engines that queue work;
        ``admitted``, that it continues a request or stream under way, which an engine
        bounding its queue must not refuse (InferencePool.run)."""
        ...


WordSpans = tuple[tuple[float, float], ...]
"""(start, end) seconds in the engine's audio of each whitespace-separated word of the
text it was given, in order; a word it did not voice (a dash) has start == end."""


@dataclass(frozen=True)
class Opening:
    """A segment begun by an :class:`OpeningEngine`: its first audio now, the rest later."""

    head: Pcm
    """About the first ``head_seconds`` of audio, *raw*: not peak-normalised, because the
    peak of the whole is not known yet (the pipeline levels it with a known gain)."""
    samples: int
    """The whole segment's length at the engine's rate, known before it is all made."""
    speech_s: tuple[float, float]
    """Where speech starts and ends in the segment, in seconds (from the durations)."""
    rest: Callable[[], Pcm]
    """Makes the raw audio after ``head`` (``samples - len(head)`` samples). Blocking:
    the pipeline runs it in the inference pool."""
    word_spans: WordSpans | None = None
    """Where each word of the text is, when the engine knows (as ``TimedPcm``)."""


@runtime_checkable
class OpeningEngine(Protocol):
    """Optional engine capability: hand over a segment's opening before the rest is made.

    A stream whose listener hears silence asks for only the first fraction of a second
    (docs/streaming.md, "first audio"); the rest follows while that plays.
    """

    def open(self, text: str, voice: str, *, speed: float, head_seconds: float) -> Opening: ...


@runtime_checkable
class SelfMarkingEngine(Protocol):
    """An engine whose audio may already carry our provenance watermark (a relay to an
    upstream ScaiSpeak that marks): the pipeline then does not embed it again."""

    marks_output: bool
    """True when every segment it returns is already marked."""


@dataclass(frozen=True)
class EngineBody:
    """An engine's audio for a whole text as it arrives: s16le PCM at the engine's rate."""

    byte_length: int | None
    """The whole body's size when known in advance (the upstream's Content-Length)."""
    chunks: AsyncIterator[bytes]
    """The bytes, as they arrive; a failure part-way raises ``EngineUnavailable``."""
    close: Callable[[], Awaitable[None]]
    """Gives the connection back; safe to call at any point, and more than once."""


@runtime_checkable
class PassThroughEngine(Protocol):
    """Optional capability: hand over a whole text's audio as it arrives, for delivery
    untouched (a relay to an upstream ScaiSpeak; synthesis/passthrough.py).

    Only audio that needs no work of ours may pass: levelled (``levels_output``) and,
    where it is to carry the mark, marked (``SelfMarkingEngine.marks_output``).
    """

    sample_rate: int
    marks_output: bool
    levels_output: bool
    """True when its audio comes levelled to our target loudness, within our ceiling."""
    max_input_chars: int
    """The longest text one call accepts."""

    async def open_body(self, text: str, voice: str, *, speed: float = 1.0) -> EngineBody:
        """Start speaking ``text`` (raw: the engine normalises it) and return once the
        audio begins to arrive; raises like ``AsyncEngine.synthesize_async``."""
        ...


@dataclass(frozen=True)
class TimedPcm:
    pcm: Pcm
    word_spans: WordSpans | None
    """None when the engine could not place its words this time (the caller estimates)."""


@runtime_checkable
class TimedEngine(Protocol):
    """Optional engine capability: speech plus where each word it spoke is.

    ``synthesize_timed`` takes the same arguments as ``Engine.synthesize``; the pipeline
    prefers it when an engine has it, and the timestamps it yields are not estimates
    (synthesis/timestamps.py).
    """

    def synthesize_timed(self, text: str, voice: str, *, speed: float = 1.0) -> TimedPcm: ...


@runtime_checkable
class TimedAsyncEngine(Protocol):
    """The same capability for an ``AsyncEngine`` (the torch VITS engine is awaited)."""

    async def synthesize_timed_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> TimedPcm: ...
