"""Perth-Net's imperceptible watermark: embed it in speech, and measure its presence.

Perth-Net (resemble-perth, MIT; weights inside the wheel) is a *presence* watermark:
it carries no payload, and its decoder answers how sure it is (0..1) that a clip was
marked. Who made a marked clip is found through the provenance table instead.

The model loads on first use (about 4 s, ~40 MB); a lock makes sure it loads once.
After that, embedding and detection only read the weights, so threads may call them
concurrently (no lock on the hot path). Calls run under ``torch.inference_mode`` so no
autograd graph is built.

Embedding uses Perth's own parts (resampling, STFT, encoder, inverse STFT) but rebuilds
the complex spectrum only in the encoder's sub-band (below 2 kHz), the only rows it
changes, instead of all 1,025, and takes the phase of those rows only: the same audio
to float precision (135 dB apart), half the time (measured in docs/provenance.md).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

import librosa
import numpy as np
import torch

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance.perth_loader import load_perth

DETECTION_THRESHOLD = 0.5
"""Perth's decoder output at or above which a clip counts as marked (docs/provenance.md)."""

CERTAIN_THRESHOLD = 0.98
"""A score this high is taken as marked on its own. Between the two thresholds a clip is
only *suspect*: reverberant recordings score high without any mark (a clean Piper clip
in a simulated room: 0.52-0.954 over 180 renders, 2 at or above the 0.95 this was
before; docs/provenance.md), so intake refuses a suspect clip only when its fingerprint
matches a clip this service made."""

_TAIL_PAD_S = 0.05
"""Silence added before marking and removed after: Perth's inverse STFT drops the last
partial hop, so without it a segment would lose up to 10 ms of its end."""

_MIN_SAMPLES_S = 0.1
"""Shorter audio is passed through unmarked (there is no speech in it to carry a mark)."""


class Watermarker:
    """Lazily loaded Perth-Net; one per process is enough (see ``shared_watermarker``)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._loading = threading.Lock()

    def warm(self) -> None:
        """Load the model now (idempotent), so the first marked clip is not slow."""
        self._perth()

    def _perth(self) -> Any:
        if self._model is None:
            with self._loading:
                if self._model is None:
                    self._model = load_perth()
        return self._model

    def embed(self, pcm: Pcm, rate: int) -> Pcm:
        """``pcm`` with the watermark in it: same rate, same length, float32."""
        if pcm.size < _MIN_SAMPLES_S * rate:
            return pcm
        padded = np.concatenate([pcm, np.zeros(int(_TAIL_PAD_S * rate), np.float32)])
        out = self._mark(padded, rate)[: pcm.size]
        if out.size < pcm.size:
            out = np.concatenate([out, np.zeros(pcm.size - out.size, np.float32)])
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    def _mark(self, pcm: Pcm, rate: int) -> Pcm:
        net = self._perth().perth_net
        spectra = importlib.import_module("perth.perth_net.perth_net_implicit.utils")
        model_rate = int(net.hp.sample_rate)
        signal = librosa.resample(pcm, orig_sr=rate, target_sr=model_rate)
        band = int(net.encoder.subband)
        with torch.inference_mode():
            spectrum = net.ap.spectrogram(torch.from_numpy(np.ascontiguousarray(signal)))
            # Perth's cx_to_magphase, with the phase of the sub-band rows only (the
            # only ones rebuilt); the encoder's mask needs every row's magnitude.
            decibels = 20 * torch.log10(spectrum.abs().clip(net.hp.stft_magnitude_min))
            magnitude = spectra.normalize(net.hp, decibels)
            phase = torch.angle(spectrum[:band])
            marked, _mask = net.encoder(magnitude[None])
            spectrum = spectrum.clone()
            spectrum[:band] = spectra.magphase_to_cx(net.hp, marked[0, :band], phase)
            out = net.ap.inv_spectrogram(spectrum).numpy()
        return np.asarray(librosa.resample(out, orig_sr=model_rate, target_sr=rate), np.float32)

    def detect(self, pcm: Pcm, rate: int) -> float:
        """Confidence (0..1) that ``pcm`` carries the watermark; 0 for near-empty audio."""
        if pcm.size < _MIN_SAMPLES_S * rate or not np.any(pcm):
            return 0.0
        # As a speaker would play it: non-finite samples would make the score NaN.
        playable = np.clip(np.nan_to_num(pcm.astype(np.float32), nan=0.0), -1.0, 1.0)
        with torch.inference_mode():
            score = self._perth().get_watermark(playable, sample_rate=rate, round=False)
        value = float(np.asarray(score).reshape(-1)[0])
        return value if np.isfinite(value) else 0.0

    def is_marked(self, pcm: Pcm, rate: int) -> bool:
        return self.detect(pcm, rate) >= DETECTION_THRESHOLD


_shared = Watermarker()


def shared_watermarker() -> Watermarker:
    """The process's watermarker (the model is large; load it once per process)."""
    return _shared
