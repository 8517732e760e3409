"""A Piper VITS graph cut in two, so a segment's opening can be heard before the rest is made.

Piper exports text encoder, duration predictor, flow and HiFi-GAN decoder as one graph.
Everything before the decoder (the *front*) is cheap and fixes the segment: its latent
frames (``hop_length`` samples each), hence its exact length, and all of its noise. The
decoder is a stack of convolutions with a finite receptive field, so any window of
frames decodes on its own given a few frames of context either side. With
:data:`CONTEXT_FRAMES` of context the pieces equal a whole decode to float precision
(127 dB SNR measured on en_US-joe-medium; 8 frames give 67 dB), so cutting changes no
sample that matters.

The cut is found by structure, not by node name: the decoder's input is whatever feeds
the convolution that holds ``dec.conv_pre.weight``, and the durations are the output
of the duration predictor's ``Ceil``. A graph without them fails loudly at load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnx.utils
import onnxruntime

from scaispeak.speak.engines.base import EngineError, Pcm

CONTEXT_FRAMES = 12
"""Frames decoded beyond each side of a window and thrown away (see the module doc)."""
MAX_DECODE_FRAMES = 256
"""The most frames (about 3 s of joe) one decoder run takes; longer latents are decoded
window by window. onnxruntime's arena keeps what the largest run needed: whole 300-
character pieces left a process at 970-1,130 MB, windows at 510-520 MB, in the same time
(bench/piper_decode_window.py, docs/benchmarks.md)."""

_GRAPH_INPUTS = ["input", "input_lengths", "scales"]


@dataclass(frozen=True)
class Latent:
    """The front's answer for one sentence: what the decoder turns into audio."""

    frames: npt.NDArray[np.float32]
    """Shape (1, channels, n_frames)."""
    frames_per_id: npt.NDArray[np.int64]
    """How many frames each phoneme id lasts (the duration predictor's output)."""

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[2])


class SplitVits:
    """Two onnxruntime sessions over one Piper voice: ``latent`` then ``decode``."""

    def __init__(
        self, model_path: Path, options: onnxruntime.SessionOptions, hop_length: int
    ) -> None:
        self.hop_length = hop_length
        model = onnx.load(str(model_path))
        latent_name, durations_name = _cut_points(model)
        extractor = onnx.utils.Extractor(model)
        front = extractor.extract_model(_GRAPH_INPUTS, [latent_name, durations_name])
        decoder = extractor.extract_model([latent_name], [model.graph.output[0].name])
        providers = ["CPUExecutionProvider"]
        self.front = onnxruntime.InferenceSession(front.SerializeToString(), options, providers)
        self._decoder = onnxruntime.InferenceSession(
            decoder.SerializeToString(), options, providers
        )
        self._latent_name = latent_name

    def latent(self, phoneme_ids: list[int], scales: npt.NDArray[np.float32]) -> Latent:
        """Run the front for one sentence's phoneme ids (noise, length and width scales)."""
        ids = np.asarray([phoneme_ids], dtype=np.int64)
        lengths = np.asarray([len(phoneme_ids)], dtype=np.int64)
        frames, durations = self.front.run(
            None, {"input": ids, "input_lengths": lengths, "scales": scales}
        )
        return Latent(np.asarray(frames, np.float32), np.asarray(durations).reshape(-1))

    def decode(self, latent: Latent, start: int = 0, stop: int | None = None) -> Pcm:
        """Audio of frames ``[start, stop)``: ``(stop - start) * hop_length`` samples."""
        stop = latent.n_frames if stop is None else min(stop, latent.n_frames)
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        if stop - start > MAX_DECODE_FRAMES:
            windows = range(start, stop, MAX_DECODE_FRAMES)
            return np.concatenate(
                [self._decode_window(latent, a, min(a + MAX_DECODE_FRAMES, stop)) for a in windows]
            )
        return self._decode_window(latent, start, stop)

    def _decode_window(self, latent: Latent, start: int, stop: int) -> Pcm:
        lo = max(0, start - CONTEXT_FRAMES)
        hi = min(latent.n_frames, stop + CONTEXT_FRAMES)
        window = np.ascontiguousarray(latent.frames[:, :, lo:hi])
        audio = self._decoder.run(None, {self._latent_name: window})[0].reshape(-1)
        begin = (start - lo) * self.hop_length
        return np.asarray(audio[begin : begin + (stop - start) * self.hop_length], np.float32)


def _cut_points(model: onnx.ModelProto) -> tuple[str, str]:
    """Names of the decoder's input tensor and of the per-id frame durations."""
    latent = [node.input[0] for node in model.graph.node if "dec.conv_pre.weight" in node.input]
    durations = [node.output[0] for node in model.graph.node if node.op_type == "Ceil"]
    if len(latent) != 1 or len(durations) != 1:
        raise EngineError(
            "cannot cut this VITS graph before its decoder: expected one dec.conv_pre "
            f"convolution and one duration Ceil, found {len(latent)} and {len(durations)}"
        )
    return latent[0], durations[0]
