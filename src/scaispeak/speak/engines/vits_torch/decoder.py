"""The HiFi-GAN-style decoder: latent frames -> waveform samples.

Transposed convolutions upsample the latent by the hop length (256 for this voice,
in three stages); after each stage a multi-receptive-field fusion averages residual
blocks of different kernel sizes. When a batch holds sequences of different lengths,
``frame_lengths`` masks each convolution's input to the item's own length at that
resolution, so the padding behaves like the zero padding of a single-item run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from scaispeak.speak.engines.vits_torch.layers import same_padding, sequence_mask

RESIDUAL_SLOPE = 0.1
"""Leaky ReLU slope inside the generator."""
FINAL_SLOPE = 0.01
"""The generator's last activation uses PyTorch's default slope, not 0.1."""


@dataclass(frozen=True)
class UpsampleStage:
    kernel_size: int
    stride: int
    padding: int


class GatedResidualBlock(nn.Module):
    """HiFi-GAN's lighter residual block: one dilated conv per residual step."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(
                channels,
                channels,
                kernel_size,
                dilation=dilation,
                padding=same_padding(kernel_size, dilation),
            )
            for dilation in dilations
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(_masked(F.leaky_relu(x, RESIDUAL_SLOPE), mask))
        return x


class Generator(nn.Module):
    """Upsampling stages, each followed by the average of its residual blocks."""

    def __init__(
        self,
        in_channels: int,
        initial_channels: int,
        stages: tuple[UpsampleStage, ...],
        block_kernels: tuple[int, ...],
        block_dilations: tuple[tuple[int, ...], ...],
    ) -> None:
        super().__init__()
        self.stages = stages
        self.blocks_per_stage = len(block_kernels)
        self.conv_pre = nn.Conv1d(in_channels, initial_channels, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = initial_channels
        for stage in stages:
            self.ups.append(
                nn.ConvTranspose1d(
                    channels,
                    channels // 2,
                    stage.kernel_size,
                    stride=stage.stride,
                    padding=stage.padding,
                )
            )
            channels //= 2
            for kernel, dilations in zip(block_kernels, block_dilations, strict=True):
                self.resblocks.append(GatedResidualBlock(channels, kernel, dilations))
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=False)

    @property
    def hop_length(self) -> int:
        hop = 1
        for stage in self.stages:
            hop *= stage.stride
        return hop

    def forward(self, z: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` is ``[b, c, frames]``; returns ``[b, frames * hop]`` samples in [-1, 1]."""
        lengths = frame_lengths
        mask = _mask_for(lengths, z.shape[-1])
        x = self.conv_pre(_masked(z, mask))
        for i, (up, stage) in enumerate(zip(self.ups, self.stages, strict=True)):
            x = up(_masked(F.leaky_relu(x, RESIDUAL_SLOPE), mask))
            lengths = None if lengths is None else lengths * stage.stride
            mask = _mask_for(lengths, x.shape[-1])
            first = i * self.blocks_per_stage
            blocks = self.resblocks[first : first + self.blocks_per_stage]
            x = sum((block(x, mask) for block in blocks), torch.zeros_like(x))
            x = x / self.blocks_per_stage
        x = self.conv_post(_masked(F.leaky_relu(x, FINAL_SLOPE), mask))
        return torch.tanh(x)[:, 0]


def _mask_for(lengths: torch.Tensor | None, length: int) -> torch.Tensor | None:
    return None if lengths is None else sequence_mask(lengths, length)


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask.to(x.dtype)
