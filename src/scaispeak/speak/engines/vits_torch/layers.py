"""Small layers the VITS parts share: masks, channel layer norm, dilated conv stacks.

Every tensor here is laid out ``[batch, channels, time]`` and comes with a mask of shape
``[batch, 1, time]`` (1.0 where a sequence has data, 0.0 in its padding). Each layer that
looks at neighbouring time steps multiplies its input by that mask first, so the padding
of a short sequence in a batch reads as the zero padding it would see when run alone:
that is what makes padded batches give every item the audio it gets by itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-5


def sequence_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``[batch, 1, max_length]`` float mask: 1.0 for the first ``lengths[i]`` steps."""
    steps = torch.arange(max_length, device=lengths.device)
    return (steps.unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(1).float()


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    """Padding that keeps the length of an odd-kernel convolution unchanged."""
    return (kernel_size * dilation - dilation) // 2


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channel axis of a ``[batch, channels, time]`` tensor.

    The parameters are called ``gamma`` and ``beta`` because that is how the voice
    file names them.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = F.layer_norm(
            x.transpose(1, -1), (self.channels,), self.gamma, self.beta, LAYER_NORM_EPS
        )
        return normed.transpose(1, -1)


class DilatedDepthSeparableConv(nn.Module):
    """Stack of depthwise dilated convs with 1x1 mixing, layer norms and GELU (residual).

    Used by the stochastic duration predictor; dilation grows as ``kernel_size ** i`` so
    three layers see 27 neighbours. Attribute names follow the voice file's layout.
    """

    def __init__(self, channels: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        self.convs_sep = nn.ModuleList()
        self.convs_1x1 = nn.ModuleList()
        self.norms_1 = nn.ModuleList()
        self.norms_2 = nn.ModuleList()
        for i in range(n_layers):
            dilation = kernel_size**i
            self.convs_sep.append(
                nn.Conv1d(
                    channels,
                    channels,
                    kernel_size,
                    groups=channels,
                    dilation=dilation,
                    padding=same_padding(kernel_size, dilation),
                )
            )
            self.convs_1x1.append(nn.Conv1d(channels, channels, 1))
            self.norms_1.append(ChannelLayerNorm(channels))
            self.norms_2.append(ChannelLayerNorm(channels))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        if condition is not None:
            x = x + condition
        for sep, mix, norm_1, norm_2 in zip(
            self.convs_sep, self.convs_1x1, self.norms_1, self.norms_2, strict=True
        ):
            y = F.gelu(norm_1(sep(x * mask)))
            y = F.gelu(norm_2(mix(y)))
            x = x + y
        return x * mask


class WaveNetStack(nn.Module):
    """Non-causal WaveNet: gated dilated convs with residual and skip outputs.

    The flow's coupling layers use it to predict a shift for one half of the channels from
    the other half. The last layer has no residual output, only skip channels.
    """

    def __init__(self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = dilation_rate**i
            self.in_layers.append(
                nn.Conv1d(
                    hidden,
                    2 * hidden,
                    kernel_size,
                    dilation=dilation,
                    padding=same_padding(kernel_size, dilation),
                )
            )
            out_channels = 2 * hidden if i < n_layers - 1 else hidden
            self.res_skip_layers.append(nn.Conv1d(hidden, out_channels, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        skip = torch.zeros_like(x)
        last = len(self.in_layers) - 1
        for i, (gate_conv, out_conv) in enumerate(
            zip(self.in_layers, self.res_skip_layers, strict=True)
        ):
            pre = gate_conv(x)
            acts = torch.tanh(pre[:, : self.hidden]) * torch.sigmoid(pre[:, self.hidden :])
            out = out_conv(acts)
            if i < last:
                x = (x + out[:, : self.hidden]) * mask
                skip = skip + out[:, self.hidden :]
            else:
                skip = skip + out
        return skip * mask
