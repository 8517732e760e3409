"""The stochastic duration predictor, run backwards: noise -> log phoneme durations.

At inference the predictor draws two channels of Gaussian noise per phoneme and pushes
them through its normalising flows in reverse, conditioned on the text encoding; the
first channel that comes out is the log duration. The flows are neural spline couplings
(one channel is transformed by a monotonic rational-quadratic spline whose knots are
predicted from the other channel), channel flips, and one elementwise affine.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scaispeak.speak.engines.vits_torch.layers import DilatedDepthSeparableConv

SPLINE_BINS = 10
SPLINE_TAIL_BOUND = 5.0
MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
SEARCH_EPS = 1e-6


def _knots(unnormalised: torch.Tensor, min_size: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bin sizes and cumulative knot positions on [-tail, tail] from raw logits."""
    bins = unnormalised.shape[-1]
    sizes = min_size + (1 - min_size * bins) * torch.softmax(unnormalised, dim=-1)
    edges = F.pad(torch.cumsum(sizes, dim=-1), (1, 0))
    edges = 2 * SPLINE_TAIL_BOUND * edges - SPLINE_TAIL_BOUND
    # Pin the ends exactly, so rounding in the cumulative sum cannot move them.
    edges = torch.cat(
        [
            torch.full_like(edges[..., :1], -SPLINE_TAIL_BOUND),
            edges[..., 1:-1],
            torch.full_like(edges[..., :1], SPLINE_TAIL_BOUND),
        ],
        dim=-1,
    )
    return edges[..., 1:] - edges[..., :-1], edges


def inverse_rational_quadratic_spline(
    y: torch.Tensor,
    raw_widths: torch.Tensor,
    raw_heights: torch.Tensor,
    raw_derivatives: torch.Tensor,
) -> torch.Tensor:
    """Invert a monotonic rational-quadratic spline on [-5, 5], identity outside it.

    ``y`` is ``[...]``; the raw knot parameters are ``[..., bins]`` (derivatives
    ``[..., bins - 1]``: the outer derivatives are fixed to 1 so the spline meets the
    identity tails smoothly). Solves the spline's quadratic for x in the bin holding y.
    """
    widths, x_edges = _knots(raw_widths, MIN_BIN_WIDTH)
    heights, y_edges = _knots(raw_heights, MIN_BIN_HEIGHT)
    # softplus(log(e^(1 - m) - 1)) + m == 1: unit slope at both ends.
    end = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)
    padded = F.pad(raw_derivatives, (1, 1), value=end)
    derivatives = MIN_DERIVATIVE + F.softplus(padded)

    inside = (y >= -SPLINE_TAIL_BOUND) & (y <= SPLINE_TAIL_BOUND)
    y_in = y.clamp(-SPLINE_TAIL_BOUND, SPLINE_TAIL_BOUND)
    search_edges = torch.cat([y_edges[..., :-1], y_edges[..., -1:] + SEARCH_EPS], dim=-1)
    bin_index = (y_in.unsqueeze(-1) >= search_edges).sum(dim=-1, keepdim=True) - 1
    bin_index = bin_index.clamp(0, widths.shape[-1] - 1)

    def pick(values: torch.Tensor) -> torch.Tensor:
        return values.gather(-1, bin_index).squeeze(-1)

    x_left, width = pick(x_edges), pick(widths)
    y_low, height = pick(y_edges), pick(heights)
    d_left, d_right = pick(derivatives), pick(derivatives[..., 1:])
    slope = height / width

    offset = y_in - y_low
    curvature = d_left + d_right - 2 * slope
    a = offset * curvature + height * (slope - d_left)
    b = height * d_left - offset * curvature
    c = -slope * offset
    root = (2 * c) / (-b - torch.sqrt(b.pow(2) - 4 * a * c))
    return torch.where(inside, root * width + x_left, y)


class ElementwiseAffine(nn.Module):
    """Per-channel affine flow; stores the inverse scale ``exp(-logs)`` the voice file holds.

    The exported graph only ever runs this flow backwards, so the file keeps ``m`` and
    the folded constant ``exp(-logs)`` rather than ``logs`` itself.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.inv_scale = nn.Parameter(torch.ones(channels, 1))

    def reverse(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (x - self.m) * self.inv_scale * mask


class SplineCouplingFlow(nn.Module):
    """Transforms channel 1 with a spline whose knots are predicted from channel 0."""

    def __init__(self, filter_channels: int, kernel_size: int, n_layers: int) -> None:
        super().__init__()
        self.filter_channels = filter_channels
        self.pre = nn.Conv1d(1, filter_channels, 1)
        self.convs = DilatedDepthSeparableConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, 3 * SPLINE_BINS - 1, 1)

    def reverse(self, x: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, :1], x[:, 1:]
        h = self.convs(self.pre(x0), mask, condition)
        h = (self.proj(h) * mask).transpose(1, 2)  # [b, t, 29]
        scale = math.sqrt(self.filter_channels)
        widths = h[..., :SPLINE_BINS] / scale
        heights = h[..., SPLINE_BINS : 2 * SPLINE_BINS] / scale
        derivatives = h[..., 2 * SPLINE_BINS :]
        y = inverse_rational_quadratic_spline(x1[:, 0], widths, heights, derivatives)
        return torch.cat([x0, y.unsqueeze(1)], dim=1) * mask


class StochasticDurationPredictor(nn.Module):
    """Log durations from the text encoding and two channels of noise per phoneme.

    ``flows`` is keyed by the positions the voice file uses (0: the affine flow; 3, 5,
    7: spline couplings; the flips in between hold no weights, and the coupling at 1 is
    never used when sampling, so the exported file does not carry it).
    """

    SPLINE_KEYS = ("7", "5", "3")
    """Coupling flows in the order they run backwards."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int = 3) -> None:
        super().__init__()
        self.pre = nn.Conv1d(channels, channels, 1)
        self.convs = DilatedDepthSeparableConv(channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(channels, channels, 1)
        flows: dict[str, nn.Module] = {"0": ElementwiseAffine(2)}
        for key in self.SPLINE_KEYS:
            flows[key] = SplineCouplingFlow(channels, kernel_size, n_layers)
        self.flows = nn.ModuleDict(flows)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``noise`` is ``[b, 2, t]``, already scaled; returns log durations ``[b, 1, t]``."""
        condition = self.proj(self.convs(self.pre(x), mask)) * mask
        z = noise
        for key in self.SPLINE_KEYS:
            z = torch.flip(z, [1])
            coupling = self.flows[key]
            assert isinstance(coupling, SplineCouplingFlow)
            z = coupling.reverse(z, mask, condition)
        z = torch.flip(z, [1])
        affine = self.flows["0"]
        assert isinstance(affine, ElementwiseAffine)
        z = affine.reverse(z, mask)
        return z[:, :1]
