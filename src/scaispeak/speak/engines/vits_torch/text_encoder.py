"""The text encoder: phoneme ids -> hidden states and the prior's mean and log-scale.

A transformer whose self-attention adds learned *relative* position terms: each query
also scores, and each output also mixes in, an embedding of the key's offset from the
query, for offsets within ``window`` steps (beyond it the term is zero). There is no
absolute position embedding, which is why padding a sequence does not change it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scaispeak.speak.engines.vits_torch.layers import ChannelLayerNorm, sequence_mask

MASKED_SCORE = -1e4
"""Score given to padded keys; exp() of it underflows to exactly 0 in float32."""


def relative_offsets(length: int, window: int, device: torch.device) -> torch.Tensor:
    """``[length, length, 2*window+1]`` one-hot of the offset ``key - query`` per pair.

    A pair further apart than ``window`` gets an all-zero row: it has no relative term.
    """
    positions = torch.arange(length, device=device)
    offset = positions.unsqueeze(0) - positions.unsqueeze(1)
    in_window = offset.abs() <= window
    index = offset.clamp(-window, window) + window
    one_hot = F.one_hot(index, 2 * window + 1).float()
    return one_hot * in_window.unsqueeze(-1).float()


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with windowed relative position keys and values."""

    def __init__(self, channels: int, n_heads: int, window: int) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError("channels must divide evenly into heads")
        self.n_heads = n_heads
        self.head_channels = channels // n_heads
        self.window = window
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        # One table shared by every head (the leading 1), one row per offset.
        self.emb_rel_k = nn.Parameter(torch.zeros(1, 2 * window + 1, self.head_channels))
        self.emb_rel_v = nn.Parameter(torch.zeros(1, 2 * window + 1, self.head_channels))

    def forward(self, x: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        query = self._heads(self.conv_q(x)) / math.sqrt(self.head_channels)
        key = self._heads(self.conv_k(x))
        value = self._heads(self.conv_v(x))
        offsets = relative_offsets(length, self.window, x.device)

        scores = query @ key.transpose(-2, -1)
        offset_scores = query @ self.emb_rel_k[0].transpose(0, 1)  # [b, h, t, offsets]
        scores = scores + torch.einsum("bhqr,qkr->bhqk", offset_scores, offsets)
        scores = scores.masked_fill(pair_mask == 0, MASKED_SCORE)
        weights = torch.softmax(scores, dim=-1)

        out = weights @ value
        offset_weights = torch.einsum("bhqk,qkr->bhqr", weights, offsets)
        out = out + offset_weights @ self.emb_rel_v[0]
        out = out.transpose(2, 3).reshape(batch, channels, length)
        projected: torch.Tensor = self.conv_o(out)
        return projected

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, c, t]`` -> ``[b, heads, t, head_channels]``."""
        batch, _, length = x.shape
        return x.view(batch, self.n_heads, self.head_channels, length).transpose(2, 3)


class FeedForward(nn.Module):
    """Two same-padded convolutions with a ReLU between, masked before each."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(self._pad(x * mask)))
        out: torch.Tensor = self.conv_2(self._pad(x * mask))
        return out * mask

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        # Explicit so an even kernel would pad like the original (more on the right).
        return F.pad(x, ((self.kernel_size - 1) // 2, self.kernel_size // 2))


class TransformerEncoder(nn.Module):
    """Post-norm transformer: attention, norm, feed-forward, norm, per layer."""

    def __init__(
        self,
        channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        window: int,
    ) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList(
            RelativeSelfAttention(channels, n_heads, window) for _ in range(n_layers)
        )
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(
            FeedForward(channels, filter_channels, kernel_size) for _ in range(n_layers)
        )
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pair_mask = mask.unsqueeze(2) * mask.unsqueeze(-1)  # [b, 1, t, t]
        x = x * mask
        for attn, norm_1, ffn, norm_2 in zip(
            self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2, strict=True
        ):
            x = norm_1(x + attn(x, pair_mask))
            x = norm_2(x + ffn(x, mask))
        return x * mask


class TextEncoder(nn.Module):
    """Embeds phoneme ids, encodes them, and projects to the prior's statistics."""

    def __init__(
        self,
        n_symbols: int,
        out_channels: int,
        hidden: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int,
        window: int,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.emb = nn.Embedding(n_symbols, hidden)
        self.encoder = TransformerEncoder(
            hidden, filter_channels, n_heads, n_layers, kernel_size, window
        )
        self.proj = nn.Conv1d(hidden, out_channels * 2, 1)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(hidden, mean, log_scale, mask)`` for ``ids`` of shape ``[b, t]``."""
        x = self.emb(ids) * math.sqrt(self.hidden)
        x = x.transpose(1, 2)
        mask = sequence_mask(lengths, ids.shape[1]).to(x.dtype)
        x = self.encoder(x, mask)
        stats = self.proj(x) * mask
        mean, log_scale = stats.chunk(2, dim=1)
        return x, mean, log_scale, mask
