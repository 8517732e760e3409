"""Piper's VITS inference graph as one PyTorch module, with injectable noise.

``PiperVits.infer`` does what the voice's ONNX graph does: encode phonemes, sample log
durations from noise, expand the prior to frames, sample the latent, undo the flow,
decode to samples. Its two random draws come from a :class:`NoiseSource`, so tests can
feed the very same noise to this model and to onnxruntime, and so an item of a padded
batch can receive exactly the noise it would get alone. The submodule names (``enc_p``,
``dp``, ``flow``, ``dec``) mirror the voice file's tensor names, so weights map by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from scaispeak.speak.engines.vits_torch.decoder import Generator, UpsampleStage
from scaispeak.speak.engines.vits_torch.duration import StochasticDurationPredictor
from scaispeak.speak.engines.vits_torch.flow import CouplingFlow
from scaispeak.speak.engines.vits_torch.layers import sequence_mask
from scaispeak.speak.engines.vits_torch.text_encoder import TextEncoder


@dataclass(frozen=True)
class VitsConfig:
    """The architecture numbers, read from the voice file (see ``weights.read_config``)."""

    n_symbols: int
    hidden: int
    latent_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    window: int
    duration_kernel: int
    duration_layers: int
    flow_hidden: int
    flow_kernel: int
    flow_dilation_rate: int
    flow_layers: int
    n_flows: int
    decoder_channels: int
    stages: tuple[UpsampleStage, ...]
    block_kernels: tuple[int, ...]
    block_dilations: tuple[tuple[int, ...], ...]


class NoiseSource(Protocol):
    """Where the model's two Gaussian draws come from."""

    def duration_noise(self, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """``[b, 2, steps]`` standard normal noise for the duration predictor."""
        ...

    def latent_noise(self, frame_lengths: torch.Tensor, frames: int, channels: int) -> torch.Tensor:
        """``[b, channels, frames]`` standard normal noise for the prior sample."""
        ...


class GaussianNoise:
    """Fresh noise for the whole padded batch, from an optional seeded generator."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self._generator = generator

    def duration_noise(self, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        return self._draw((lengths.shape[0], 2, steps), lengths.device)

    def latent_noise(self, frame_lengths: torch.Tensor, frames: int, channels: int) -> torch.Tensor:
        return self._draw((frame_lengths.shape[0], channels, frames), frame_lengths.device)

    def _draw(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        if self._generator is None:
            # Drawn where it is used: a batch's latent noise is tens of MB on a GPU.
            return torch.randn(shape, device=device)
        return torch.randn(shape, generator=self._generator).to(device)


class PerItemNoise:
    """Noise drawn per item from its own seed at its own length, then zero-padded.

    Item ``i`` gets the same noise whatever batch it is in and however long the batch
    is padded: what the batch-equivalence tests need, and what makes a segment's
    audio reproducible from its seed. An item without a seed (None) gets fresh noise.
    """

    def __init__(self, seeds: Sequence[int | None]) -> None:
        self._seeds = list(seeds)

    def duration_noise(self, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        return self._padded(lengths, steps, 2, stream=0)

    def latent_noise(self, frame_lengths: torch.Tensor, frames: int, channels: int) -> torch.Tensor:
        return self._padded(frame_lengths, frames, channels, stream=1)

    def _padded(
        self, lengths: torch.Tensor, steps: int, channels: int, stream: int
    ) -> torch.Tensor:
        if len(self._seeds) != lengths.shape[0]:
            raise ValueError(f"{len(self._seeds)} seeds for a batch of {lengths.shape[0]}")
        out = torch.zeros(lengths.shape[0], channels, steps)
        for i, (seed, length) in enumerate(zip(self._seeds, lengths.tolist(), strict=True)):
            # Two draws per seed (durations, latent) from separate generator states.
            generator = None if seed is None else torch.Generator().manual_seed(seed * 2 + stream)
            out[i, :, :length] = torch.randn(channels, int(length), generator=generator)
        return out.to(lengths.device)


@dataclass(frozen=True)
class VitsOutput:
    audio: torch.Tensor
    """``[b, samples]``, padded; item ``i`` is ``audio[i, : sample_lengths[i]]``."""
    sample_lengths: torch.Tensor
    frame_lengths: torch.Tensor
    frames_per_id: torch.Tensor
    """``[b, t]``: how many frames each phoneme id lasts (0 in padding); where words are."""


class PiperVits(nn.Module):
    """Text encoder, stochastic duration predictor, flow and decoder of a Piper voice."""

    def __init__(self, config: VitsConfig) -> None:
        super().__init__()
        self.config = config
        self.enc_p = TextEncoder(
            config.n_symbols,
            config.latent_channels,
            config.hidden,
            config.filter_channels,
            config.n_heads,
            config.n_layers,
            config.kernel_size,
            config.window,
        )
        self.dp = StochasticDurationPredictor(
            config.hidden, config.duration_kernel, config.duration_layers
        )
        self.flow = CouplingFlow(
            config.latent_channels,
            config.flow_hidden,
            config.flow_kernel,
            config.flow_dilation_rate,
            config.flow_layers,
            config.n_flows,
        )
        self.dec = Generator(
            config.latent_channels,
            config.decoder_channels,
            config.stages,
            config.block_kernels,
            config.block_dilations,
        )

    @property
    def hop_length(self) -> int:
        return self.dec.hop_length

    @torch.inference_mode()
    def infer(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        *,
        noise_scale: torch.Tensor,
        length_scale: torch.Tensor,
        noise_w: torch.Tensor,
        noise: NoiseSource,
        decoder_dtype: torch.dtype | None = None,
    ) -> VitsOutput:
        """Synthesize a padded batch: ``ids`` ``[b, t]``, per-item ``lengths`` and scales.

        ``decoder_dtype`` runs only the decoder (most of the work) in reduced precision;
        the duration sampling stays in float32 because ``ceil`` turns tiny errors into
        whole frames.
        """
        hidden, mean, log_scale, mask = self.enc_p(ids, lengths)
        durations_noise = noise.duration_noise(lengths, ids.shape[1]) * _per_item(noise_w)
        log_durations = self.dp(hidden, mask, durations_noise.to(hidden.dtype))
        frames = torch.ceil(torch.exp(log_durations) * mask * _per_item(length_scale))
        frame_lengths = frames.sum(dim=(1, 2)).clamp_min(1).long()
        max_frames = int(frame_lengths.max())
        frame_mask = sequence_mask(frame_lengths, max_frames).to(hidden.dtype)
        path = alignment_path(frames[:, 0], max_frames) * mask.transpose(1, 2) * frame_mask
        prior_mean = mean @ path
        prior_log_scale = log_scale @ path
        latent_noise = noise.latent_noise(frame_lengths, max_frames, mean.shape[1])
        z_p = prior_mean + latent_noise.to(hidden.dtype) * torch.exp(prior_log_scale) * (
            _per_item(noise_scale)
        )
        z = self.flow.reverse(z_p, frame_mask) * frame_mask
        padded = bool((frame_lengths != max_frames).any())
        audio = self._decode(z, frame_lengths if padded else None, decoder_dtype)
        return VitsOutput(
            audio.float(), frame_lengths * self.hop_length, frame_lengths, frames[:, 0].long()
        )

    def _decode(
        self, z: torch.Tensor, frame_lengths: torch.Tensor | None, dtype: torch.dtype | None
    ) -> torch.Tensor:
        if dtype is None or dtype == torch.float32:
            audio: torch.Tensor = self.dec(z, frame_lengths)
            return audio
        with torch.autocast(device_type=z.device.type, dtype=dtype):
            audio = self.dec(z, frame_lengths)
        return audio


def alignment_path(frames: torch.Tensor, max_frames: int) -> torch.Tensor:
    """``[b, t, max_frames]``: 1 where frame j belongs to phoneme i (monotonic, hard).

    Phoneme i owns frames from the sum of the earlier durations up to its own end.
    """
    ends = torch.cumsum(frames, dim=-1)
    starts = ends - frames
    steps = torch.arange(max_frames, device=frames.device, dtype=frames.dtype)
    after_start = steps.view(1, 1, -1) >= starts.unsqueeze(-1)
    before_end = steps.view(1, 1, -1) < ends.unsqueeze(-1)
    return (after_start & before_end).to(frames.dtype)


def _per_item(values: torch.Tensor) -> torch.Tensor:
    """Shape per-item scales ``[b]`` to broadcast over ``[b, c, t]``."""
    return values.view(-1, 1, 1)
