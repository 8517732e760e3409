"""The clone engine: speaks in fitted voices through the running Kokoro engine.

A cloned voice is a blob (``blob.VoiceBlob``) in storage, addressed by the voice's id.
The engine asks its ``loader`` for the blob the first time a voice is used, turns it
into a style table (and an optional WORLD conversion), and keeps the most recently used
voices in a bounded LRU cache. It shares the Kokoro engine's ONNX session and
phonemizer: the 92 MB model is loaded once per process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scaispeak.settings import CloningSettings
from scaispeak.speak.engines.base import EngineError, EngineVoice, Pcm, UnknownEngineVoice
from scaispeak.speak.engines.cloning.blob import VoiceBlob
from scaispeak.speak.engines.cloning.styles import StyleSpace
from scaispeak.speak.engines.cloning.world import WorldConversion
from scaispeak.speak.engines.kokoro import SAMPLE_RATE, KokoroEngine
from scaispeak.speak.engines.kokoro_model import StyleTable

BlobLoader = Callable[[str], bytes | None]
"""Returns a voice's stored blob by voice id; None (or ``KeyError``) when there is none."""


@dataclass(frozen=True)
class FittedVoice:
    """A loaded cloned voice: the style table and the conversion to apply after it."""

    table: StyleTable
    world: WorldConversion | None


@dataclass
class _Loads:
    """A voice's loads in flight, and how often it was evicted while any ran: a load
    that sees the count change read a blob that may have been replaced or revoked."""

    in_flight: int = 0
    evictions: int = 0


class CloneEngine:
    """Speaks cloned voices by id; voices come from ``loader`` and are cached (LRU)."""

    name = "clone"
    sample_rate = SAMPLE_RATE

    def __init__(
        self, kokoro: KokoroEngine, loader: BlobLoader, settings: CloningSettings | None = None
    ) -> None:
        settings = settings or CloningSettings()
        if settings.cache_size < 1:
            raise ValueError("the clone engine's cache needs room for at least one voice")
        self._kokoro = kokoro
        self._loader = loader
        self._model_version = settings.model_version
        self._capacity = settings.cache_size
        self._cache: OrderedDict[str, FittedVoice] = OrderedDict()
        self._loads: dict[str, _Loads] = {}
        self._lock = threading.Lock()
        self._space: StyleSpace | None = None

    def voices(self) -> list[EngineVoice]:
        """None: cloned voices live in the voice library, not in the engine."""
        return []

    def warm(self, voice_id: str | None = None) -> None:
        """Load the Kokoro model, and ``voice_id``'s blob when given."""
        self._kokoro.warm()
        if voice_id is not None:
            self.preload(voice_id)

    def preload(self, voice_id: str) -> None:
        """Load a voice into the cache before its first use. Blocking."""
        self._voice(voice_id)

    def evict(self, voice_id: str) -> None:
        """Drop a voice from the cache (revoked, deleted, refitted); unknown ids are fine."""
        with self._lock:
            self._cache.pop(voice_id, None)
            loads = self._loads.get(voice_id)
            if loads is not None:  # a load now in flight read the blob this evict retires
                loads.evictions += 1

    forget = evict
    """The voice domain's name for ``evict`` (its ``VoiceCache`` protocol)."""

    def cached(self) -> list[str]:
        """Voice ids in the cache, least recently used first."""
        with self._lock:
            return list(self._cache)

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        """Speak ``text`` in cloned voice ``voice`` (a voice id). 24 kHz mono PCM.

        Raises ``UnknownEngineVoice`` when the loader has no blob for the id, and
        ``BlobVersionMismatch`` (an ``EngineError``) when the blob needs refitting.
        """
        fitted = self._voice(voice)
        pcm = self._kokoro.synthesize_style(text, fitted.table, speed=speed)
        if fitted.world is None or len(pcm) == 0:
            return pcm
        return fitted.world.apply(pcm, SAMPLE_RATE)

    def _voice(self, voice_id: str) -> FittedVoice:
        with self._lock:
            fitted = self._cache.get(voice_id)
            if fitted is not None:
                self._cache.move_to_end(voice_id)
                return fitted
            loads = self._loads.setdefault(voice_id, _Loads())
            loads.in_flight += 1
            evictions_before = loads.evictions
        # Load outside the lock: a slow storage read must not hold up cached voices.
        try:
            fitted = self._load(voice_id)
        except BaseException:
            with self._lock:
                self._end_load(voice_id, loads)
            raise
        with self._lock:
            self._end_load(voice_id, loads)
            # An evict during the load (refit, revoke) may have retired what was read:
            # this call uses it, as it would a voice cached just before, but the cache
            # must not bring it back.
            if loads.evictions == evictions_before:
                self._remember(voice_id, fitted)
        return fitted

    def _end_load(self, voice_id: str, loads: _Loads) -> None:
        """One load of the voice is over; forget its count when none is left. Called
        with the lock held."""
        loads.in_flight -= 1
        if loads.in_flight == 0:
            del self._loads[voice_id]

    def _remember(self, voice_id: str, fitted: FittedVoice) -> None:
        """Cache ``fitted`` as the most recent voice, dropping the least recent over
        capacity. Called with the lock held."""
        self._cache[voice_id] = fitted
        self._cache.move_to_end(voice_id)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def _load(self, voice_id: str) -> FittedVoice:
        try:
            data = self._loader(voice_id)
        except KeyError:
            data = None
        if data is None:
            raise UnknownEngineVoice(f"no fitted voice {voice_id!r}")
        space = self._style_space()
        blob = VoiceBlob.from_bytes(
            data, model_version=self._model_version, tables_fingerprint=space.fingerprint
        )
        if blob.voices != space.names:
            raise EngineError(f"voice {voice_id!r} mixes tables {blob.voices}, not {space.names}")
        table = space.mix(blob.weights, blob.offset)
        if not np.all(np.isfinite(table)):
            raise EngineError(f"voice {voice_id!r} has a corrupt style")
        return FittedVoice(table=table, world=blob.world)

    def _style_space(self) -> StyleSpace:
        space = self._space
        if space is None:
            space = self._space = StyleSpace(self._kokoro.style_tables())
        return space
