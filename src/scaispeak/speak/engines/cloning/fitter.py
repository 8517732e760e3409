"""Fitting a voice to a reference clip: the ``VoiceFitter`` protocol and the style search.

``StyleSearchFitter`` is the cloner we can build from what ships offline (no zero-shot
neural cloner does): embed the reference, find the nearest stock voice, search Kokoro's
style space for a voice whose Resemblyzer embedding approaches the reference's, choose
among search stages on a held-out tail of the reference, then try a WORLD conversion
and keep it only if the held-out tail says it helps. A real neural cloner can replace
it behind ``VoiceFitter`` (and the blob's ``model_version``) without touching the
service.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol, runtime_checkable

import numpy as np
import soxr
from scipy.optimize import nnls

from scaispeak.settings import CloningSettings
from scaispeak.speak.engines.base import EngineError, Pcm
from scaispeak.speak.engines.cloning.blob import BlobError, VoiceBlob, version_parts
from scaispeak.speak.engines.cloning.conversion import ConversionFit, fit_conversion
from scaispeak.speak.engines.cloning.search import SearchLimits, SearchTrace, evolve
from scaispeak.speak.engines.cloning.speakers import Embedding, SpeakerEncoder, cosine
from scaispeak.speak.engines.cloning.stock import (
    PROBE_FIT,
    PROBE_VALIDATE,
    StockVoices,
    stock_key,
)
from scaispeak.speak.engines.cloning.styles import STYLE_DIM, StylePoint, StyleSpace, Vector
from scaispeak.speak.engines.kokoro import SAMPLE_RATE, KokoroEngine
from scaispeak.speak.engines.kokoro_model import StyleTable

MIN_REFERENCE_S = 4.0
MAX_REFERENCE_S = 30.0
_MIX_STEP = 0.5
"""First step of the mixing-weights-only phase, in logits."""
_SIMPLEX_WEIGHT = 10.0
_MIN_WEIGHT = 0.01
"""Floor of a starting weight, so no table starts out of the search's reach."""
_BASE_LOGIT = 30.0
"""A logit that makes one table the whole mix (softmax weight ≈ 1)."""


class ReferenceRejected(EngineError):
    """The reference clip cannot be fitted (too short, too long, too little speech)."""


@runtime_checkable
class VoiceFitter(Protocol):
    """Turns reference speech into an embedding blob for the engine that speaks it."""

    @property
    def version(self) -> str:
        """Names the fitter's output; the service rebuilds blobs made by another version."""
        ...

    def version_of(self, blob: bytes) -> str | None:
        """The version a blob made earlier answers to, read from the blob itself (None
        when it cannot tell): a row recorded under an older naming keeps its voice."""
        ...

    def fit(self, pcm: Pcm, rate: int) -> bytes:
        """Blocking; ``pcm`` is mono float32 at ``rate``. Raises ``EngineError``."""
        ...


@dataclass(frozen=True)
class FitReport:
    """A fit's blob and how it got there (the benchmark prints these)."""

    blob: VoiceBlob
    stock_similarity: dict[str, float]
    evaluations: int
    search_score: float
    validation: dict[str, float]
    conversion: ConversionFit | None


@dataclass(frozen=True)
class _Targets:
    fit_pcm: Pcm
    fit: Embedding
    held_out_pcm: Pcm
    held_out: Embedding


class StyleSearchFitter:
    """Nearest stock voice, Kokoro style search, optional WORLD conversion."""

    def __init__(
        self,
        kokoro: KokoroEngine,
        encoder: SpeakerEncoder,
        settings: CloningSettings,
        *,
        stock: StockVoices | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``stock`` may add other engines' voices to the nearest-voice comparison."""
        self._model_version = settings.model_version
        self._kokoro = kokoro
        self._encoder = encoder
        self._settings = settings
        self._stock = stock or StockVoices(kokoro, encoder)
        self._clock = clock
        self._space: StyleSpace | None = None

    @property
    def version(self) -> str:
        """The model's version and the stock tables a fit mixes: a blob names both,
        and the engine refuses one made for other tables (an upgrade of the Kokoro
        voices package), so voices built under either are evicted and fitted again."""
        return _named(self._model_version, self.space.fingerprint)

    def version_of(self, blob: bytes) -> str | None:
        """Rows fitted before the version named the tables recorded the model's version
        alone; their blobs name both, so a voice fitted on these tables is kept."""
        try:
            return _named(*version_parts(blob))
        except BlobError:
            return None

    @property
    def stock(self) -> StockVoices:
        """The stock voices' probe embeddings (computed by the first fit, then kept)."""
        return self._stock

    @property
    def space(self) -> StyleSpace:
        if self._space is None:
            self._space = StyleSpace(self._kokoro.style_tables())
        return self._space

    def fit(self, pcm: Pcm, rate: int) -> bytes:
        return self.fit_report(pcm, rate).blob.to_bytes()

    def fit_report(self, pcm: Pcm, rate: int) -> FitReport:
        """Fit a voice to ``pcm`` within ``settings.time_budget_s`` and describe the fit."""
        began = self._clock()
        deadline = began + self._settings.time_budget_s
        targets = self._targets(pcm, rate)
        stock = self._stock.similarities(targets.fit)
        space = self.space
        kokoro = np.array([stock[stock_key("kokoro", name)] for name in space.names], np.float32)
        trace = self._search(targets, deadline)
        # The nearest stock table competes too: a search that overfits must not win.
        base = space.start(_BASE_LOGIT * (kokoro == kokoro.max()).astype(np.float32))
        stages = [base.as_vector()] + [p for p, _ in trace.stages(self._settings.validation_stages)]
        validated = [self._validate(vector, targets) for vector in stages]
        scores = [score for score, _ in validated]
        chosen = int(np.argmax(scores))
        point = StylePoint.from_vector(stages[chosen], len(space.names))
        conversion = None
        if self._settings.world_conversion and self._clock() < deadline:
            conversion = self._convert(point, targets, validated[chosen])
        kept = conversion.kept if conversion else None
        blob = VoiceBlob(
            model_version=self._model_version,
            tables_fingerprint=space.fingerprint,
            voices=space.names,
            weights=point.weights(),
            offset=space.absolute_offset(point),
            world=kept,
            reference_embedding=targets.fit,
            validation_base=scores[0],
            validation_clone=conversion.held_out if conversion and kept else scores[chosen],
            nearest_stock=max(stock, key=stock.__getitem__),
            fit_seconds=self._clock() - began,
        )
        labels = ["base"] + [f"stage {i}" for i in range(1, len(stages))]
        validation = dict(zip(labels, scores, strict=True))
        return FitReport(blob, stock, trace.evaluations, trace.best_score, validation, conversion)

    def _search(self, targets: _Targets, deadline: float) -> SearchTrace:
        """Mixing weights alone first (5 numbers converge in a few steps), then everything."""
        settings, space = self._settings, self.space
        limits = SearchLimits(
            max_evaluations=min(settings.mix_evaluations, settings.max_evaluations),
            deadline=deadline,
            step=_MIX_STEP,
            population=settings.population,
            seed=settings.seed,
            # Time kept for what follows: one synthesis per validated stage, one for the
            # conversion's probe, and about three evaluations' worth of WORLD work.
            reserve_evaluations=settings.validation_stages + 5,
            mask=np.concatenate([np.ones(len(space.names)), np.zeros(STYLE_DIM)]).astype(
                np.float32
            ),
        )
        start = space.start(self._mix_guess(targets.fit)).as_vector()
        score = partial(self._score, text=PROBE_FIT, target=targets.fit)
        mixing = evolve(score, start, limits, clock=self._clock)
        rest = replace(
            limits,
            max_evaluations=settings.max_evaluations - mixing.evaluations,
            step=settings.initial_step,
            mask=None,
        )
        full = evolve(score, mixing.best, rest, start_score=mixing.best_score, clock=self._clock)
        return mixing.then(full)

    def _mix_guess(self, target: Embedding) -> Vector:
        """Start logits: the stock embeddings' convex mix nearest the target, as logits.

        Embeddings do not mix linearly with styles, but this beats starting from the
        nearest table when the speaker sounds "between" two stock voices, and is free.
        """
        embeddings = self._stock.embeddings()
        names = self.space.names
        basis = np.stack([embeddings[stock_key("kokoro", name)] for name in names], axis=1)
        # Non-negative least squares with a heavily weighted row forcing the sum to 1.
        rows = np.vstack([basis, _SIMPLEX_WEIGHT * np.ones((1, len(names)))])
        weights, _ = nnls(rows, np.concatenate([target, [_SIMPLEX_WEIGHT]]))
        logits: Vector = np.log(np.maximum(weights, _MIN_WEIGHT)).astype(np.float32)
        return logits

    def _convert(
        self, point: StylePoint, targets: _Targets, validated: tuple[float, Pcm]
    ) -> ConversionFit | None:
        score, audio = validated
        return fit_conversion(
            self._encoder,
            (targets.fit_pcm, targets.fit),
            (targets.held_out_pcm, targets.held_out),
            self._kokoro.synthesize_style(PROBE_FIT, self.space.table(point)),
            (audio, score),
            SAMPLE_RATE,
            min_gain=self._settings.world_min_gain,
        )

    def _targets(self, pcm: Pcm, rate: int) -> _Targets:
        audio = np.asarray(pcm, dtype=np.float32).reshape(-1)
        seconds = len(audio) / rate if rate > 0 else 0.0
        if not MIN_REFERENCE_S <= seconds <= MAX_REFERENCE_S:
            raise ReferenceRejected(
                f"reference is {seconds:.1f} s; {MIN_REFERENCE_S:g}-{MAX_REFERENCE_S:g} s needed"
            )
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
        audio = _without_quiet_ends(audio, SAMPLE_RATE)
        # The tail is held out: candidates are chosen on speech the search never saw.
        cut = int(len(audio) * (1.0 - self._settings.validation_fraction))
        fit_pcm, held_out_pcm = audio[:cut], audio[cut:]
        try:
            fit = self._encoder.embed(fit_pcm, SAMPLE_RATE)
            held_out = self._encoder.embed(held_out_pcm, SAMPLE_RATE)
        except EngineError as exc:
            raise ReferenceRejected(f"reference has too little speech: {exc}") from exc
        return _Targets(fit_pcm, fit, held_out_pcm, held_out)

    def _table_for(self, vector: Vector) -> StyleTable:
        return self.space.table(StylePoint.from_vector(vector, len(self.space.names)))

    def _score(self, vector: Vector, *, text: str, target: Embedding) -> float:
        audio = self._kokoro.synthesize_style(text, self._table_for(vector))
        return cosine(self._encoder.embed(audio, SAMPLE_RATE), target)

    def _validate(self, vector: Vector, targets: _Targets) -> tuple[float, Pcm]:
        audio = self._kokoro.synthesize_style(PROBE_VALIDATE, self._table_for(vector))
        return cosine(self._encoder.embed(audio, SAMPLE_RATE), targets.held_out), audio


_QUIET_BELOW_PEAK_DB = 40.0
_FRAME_S = 0.02


def _without_quiet_ends(audio: Pcm, rate: int) -> Pcm:
    """``audio`` without the silence or room tone before its first and after its last
    frame within ``_QUIET_BELOW_PEAK_DB`` of its loudest: 12 s of speech and 8 s of
    silence passed preflight, then the held-out tail was all silence and the fit failed
    for good, its consent challenge spent (helper-82)."""
    frame = max(1, int(_FRAME_S * rate))
    count = len(audio) // frame
    if count == 0:
        return audio
    energy = np.square(audio[: count * frame].reshape(count, frame)).mean(axis=1)
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-_QUIET_BELOW_PEAK_DB / 10))
    if energy.max() <= 0 or loud.size == 0:
        return audio
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def _named(model_version: str, tables_fingerprint: str) -> str:
    return f"{model_version}+tables-{tables_fingerprint[:16]}"
