"""Loading Perth-Net (resemble-perth) without torchaudio.

Perth's audio front end imports ``torchaudio.transforms`` for three modules: an STFT,
its inverse and a phase-vocoder stretch (the last is used only in training). No
torchaudio release matches the torch this service pins (each pins its torch exactly),
so when torchaudio is absent, the same three modules (same buffers, so the checkpoint
loads strictly) are written here over ``torch.stft``/``torch.istft`` and offered to
Perth only while it is imported; nothing else in the process sees them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn


class _Spectrogram(nn.Module):
    """Complex STFT (``power=None``), centred with reflection padding, one-sided."""

    window: torch.Tensor

    def __init__(
        self,
        n_fft: int,
        win_length: int,
        hop_length: int,
        window_fn: Callable[[int], torch.Tensor],
        **_: Any,
    ) -> None:
        super().__init__()
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", window_fn(win_length))

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            signal,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )


class _InverseSpectrogram(_Spectrogram):
    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        return torch.istft(
            spectrum,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            normalized=False,
            onesided=True,
        )


class _TimeStretch(nn.Module):
    """Holds the checkpoint's ``phase_advance`` buffer; stretching is never used here."""

    phase_advance: torch.Tensor

    def __init__(self, n_freq: int, hop_length: int, **_: Any) -> None:
        super().__init__()
        advance = torch.linspace(0, math.pi * hop_length, n_freq)[..., None]
        self.register_buffer("phase_advance", advance)

    def forward(self, *_: Any) -> torch.Tensor:
        raise NotImplementedError("Perth's time stretch is a training-time attack only.")


@contextlib.contextmanager
def _torchaudio_stand_in() -> Iterator[None]:
    package = types.ModuleType("torchaudio")
    transforms = types.ModuleType("torchaudio.transforms")
    transforms.Spectrogram = _Spectrogram  # type: ignore[attr-defined]
    transforms.InverseSpectrogram = _InverseSpectrogram  # type: ignore[attr-defined]
    transforms.TimeStretch = _TimeStretch  # type: ignore[attr-defined]
    package.transforms = transforms  # type: ignore[attr-defined]
    sys.modules["torchaudio"], sys.modules["torchaudio.transforms"] = package, transforms
    try:
        yield
    finally:
        del sys.modules["torchaudio"], sys.modules["torchaudio.transforms"]


def load_perth() -> Any:
    """A ``PerthImplicitWatermarker`` on the CPU, from the weights inside the wheel."""
    stand_in = (
        contextlib.nullcontext()
        if importlib.util.find_spec("torchaudio") is not None
        else _torchaudio_stand_in()
    )
    # It prints on load, and its package finds the weights through the deprecated
    # pkg_resources (setuptools < 81 is pinned): neither belongs in our logs.
    with stand_in, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        module = importlib.import_module("perth.perth_net.perth_net_implicit.perth_watermarker")
        return module.PerthImplicitWatermarker(device="cpu")
