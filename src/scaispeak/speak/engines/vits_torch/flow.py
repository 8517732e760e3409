"""The normalising flow, run backwards: prior sample -> latent the decoder turns into audio.

Four mean-only affine coupling layers with a channel flip after each: a coupling keeps
one half of the channels and subtracts from the other half a shift that a WaveNet
predicts from the kept half. Reversing it undoes the flips and subtracts the shifts in
the opposite order.
"""

from __future__ import annotations

import torch
from torch import nn

from scaispeak.speak.engines.vits_torch.layers import WaveNetStack


class ShiftCoupling(nn.Module):
    """Mean-only residual coupling: ``x1 -> x1 - shift(x0)`` when reversed."""

    def __init__(
        self, channels: int, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int
    ) -> None:
        super().__init__()
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden, 1)
        self.enc = WaveNetStack(hidden, kernel_size, dilation_rate, n_layers)
        self.post = nn.Conv1d(hidden, self.half_channels, 1)

    def reverse(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, : self.half_channels], x[:, self.half_channels :]
        h = self.enc(self.pre(x0) * mask, mask)
        shift = self.post(h) * mask
        return torch.cat([x0, (x1 - shift) * mask], dim=1)


class CouplingFlow(nn.Module):
    """The stack of couplings, keyed by the voice file's positions (0, 2, 4, 6).

    The odd positions are the weightless flips.
    """

    def __init__(
        self,
        channels: int,
        hidden: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        n_flows: int = 4,
    ) -> None:
        super().__init__()
        self.order = tuple(str(2 * i) for i in range(n_flows))
        self.flows = nn.ModuleDict(
            {
                key: ShiftCoupling(channels, hidden, kernel_size, dilation_rate, n_layers)
                for key in self.order
            }
        )

    def reverse(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for key in reversed(self.order):
            z = torch.flip(z, [1])
            coupling = self.flows[key]
            assert isinstance(coupling, ShiftCoupling)
            z = coupling.reverse(z, mask)
        return z
