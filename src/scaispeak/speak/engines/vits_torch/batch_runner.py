"""Running the PyTorch VITS on a batch of sentences: pad their ids into one tensor, run
the model once on its device, and cut each sentence's audio and durations back out.

Apart from ``TorchPiperEngine`` (engine.py) so the benchmark (bench/gpu.py) and tests can
drive the model directly, without the engine's phonemizer and scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from scaispeak.speak.engines.base import EngineError, Pcm
from scaispeak.speak.engines.vits_torch.model import (
    GaussianNoise,
    NoiseSource,
    PerItemNoise,
    PiperVits,
)

DECODER_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class SentenceItem:
    """One sentence's phoneme ids and scales: the unit the scheduler batches."""

    phoneme_ids: tuple[int, ...]
    length_scale: float
    noise_scale: float
    noise_w: float
    seed: int | None = None
    """Fixed noise for reproducible audio (tests); None draws fresh noise."""
    phonemes: tuple[str, ...] = ()
    """What espeak said the ids are (to place the words: vits_words.py); not batched on."""


@dataclass(frozen=True)
class SpokenSentence:
    """One sentence's audio and its frames per phoneme id: what a batch gives back."""

    pcm: Pcm
    frames_per_id: npt.NDArray[np.int64]


class VitsBatchRunner:
    """Pads a list of sentences, runs the model once, and cuts each item's audio out."""

    def __init__(
        self, model: PiperVits, device: torch.device, decoder_dtype: torch.dtype | None = None
    ) -> None:
        self.model = model
        self.device = device
        self.decoder_dtype = decoder_dtype

    def __call__(self, items: Sequence[SentenceItem]) -> list[Pcm]:
        return [sentence.pcm for sentence in self.timed(items)]

    def timed(self, items: Sequence[SentenceItem]) -> list[SpokenSentence]:
        """Each item's audio, with how long each of its phoneme ids lasts."""
        lengths = [len(item.phoneme_ids) for item in items]
        ids = torch.zeros(len(items), max(lengths), dtype=torch.long)
        for row, item in enumerate(items):
            ids[row, : lengths[row]] = torch.tensor(item.phoneme_ids, dtype=torch.long)
        output = self.model.infer(
            ids.to(self.device),
            torch.tensor(lengths, device=self.device),
            noise_scale=self._scales(items, "noise_scale"),
            length_scale=self._scales(items, "length_scale"),
            noise_w=self._scales(items, "noise_w"),
            noise=_noise_for(items),
            decoder_dtype=self.decoder_dtype,
        )
        audio = output.audio.cpu().numpy()
        ends = output.sample_lengths.cpu().tolist()
        frames = output.frames_per_id.cpu().numpy()
        return [
            SpokenSentence(audio[row, :end].astype(np.float32), frames[row, : lengths[row]])
            for row, end in enumerate(ends)
        ]

    def _scales(self, items: Sequence[SentenceItem], field: str) -> torch.Tensor:
        values = [float(getattr(item, field)) for item in items]
        return torch.tensor(values, dtype=torch.float32, device=self.device)


def _noise_for(items: Sequence[SentenceItem]) -> NoiseSource:
    """Noise drawn on the device for a batch of service traffic; per item where any
    item carries a seed, so a seeded item sounds the same whatever it is batched with
    (it got the batch's fresh noise when an unseeded item shared its batch)."""
    seeds = [item.seed for item in items]
    if any(seed is not None for seed in seeds):
        return PerItemNoise(seeds)
    return GaussianNoise()


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when PyTorch sees a GPU, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise EngineError("SCAISPEAK_ENGINES__DEVICE=cuda, but PyTorch sees no CUDA device")
    return torch.device(device)


def resolve_decoder_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: float16 on CUDA (its decoder measured 57 dB SNR against float32 under CPU
    autocast, docs/gpu.md; not yet on a GPU), float32 on the CPU."""
    if name == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in DECODER_DTYPES:
        raise ValueError(f"decoder_dtype must be 'auto' or one of {sorted(DECODER_DTYPES)}")
    return DECODER_DTYPES[name]
