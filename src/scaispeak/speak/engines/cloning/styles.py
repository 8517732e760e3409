"""Kokoro's style space: softmax mixes of the stock style tables plus an offset vector.

A point in the space is what the fitter searches over and what a voice blob stores. The
offset is added to every row of the mixed table (rows differ by utterance length) and
is expressed, for the search, in units of how much the stock voices differ per
dimension, so one step size suits all 256 dimensions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaispeak.speak.engines.kokoro_model import StyleTable

STYLE_DIM = 256
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class StylePoint:
    """Mixing logits (one per stock table) and an offset in per-dimension spread units."""

    logits: Vector
    offset: Vector

    def as_vector(self) -> Vector:
        return np.concatenate([self.logits, self.offset]).astype(np.float32)

    @staticmethod
    def from_vector(vector: Vector, voices: int) -> StylePoint:
        return StylePoint(logits=vector[:voices].copy(), offset=vector[voices:].copy())

    def weights(self) -> Vector:
        shifted = np.exp(self.logits - self.logits.max())
        weights: Vector = (shifted / shifted.sum()).astype(np.float32)
        return weights


class StyleSpace:
    """The stock tables in a fixed order, and how to turn points into style tables."""

    def __init__(self, tables: Mapping[str, StyleTable]) -> None:
        self.names: tuple[str, ...] = tuple(sorted(tables))
        self._tables = np.stack([np.asarray(tables[name], np.float32) for name in self.names])
        means = self._tables.reshape(len(self.names), -1, STYLE_DIM).mean(axis=1)
        # Between-voice spread per dimension: a dimension on which the stock voices agree
        # is one the model may not tolerate moving much.
        self.spread: Vector = means.std(axis=0).astype(np.float32) + np.float32(1e-3)
        self.fingerprint = _fingerprint(self.names, self._tables)

    @property
    def dimension(self) -> int:
        """How many numbers a point has: one logit per table plus the offset."""
        return len(self.names) + STYLE_DIM

    def start(self, logits: Vector) -> StylePoint:
        """A point with the given mixing logits and no offset."""
        return StylePoint(np.asarray(logits, np.float32), np.zeros(STYLE_DIM, np.float32))

    def absolute_offset(self, point: StylePoint) -> Vector:
        """The offset in style units (what a blob stores)."""
        return (point.offset * self.spread).astype(np.float32)

    def table(self, point: StylePoint) -> StyleTable:
        """The style table (rows, 1, 256) for ``point``."""
        return self.mix(point.weights(), self.absolute_offset(point))

    def mix(self, weights: Vector, offset: Vector) -> StyleTable:
        """Weighted sum of the stock tables plus ``offset`` on every row."""
        mixed = np.tensordot(np.asarray(weights, np.float32), self._tables, axes=1)
        return (mixed + np.asarray(offset, np.float32).reshape(1, 1, STYLE_DIM)).astype(np.float32)


def _fingerprint(names: tuple[str, ...], tables: npt.NDArray[np.float32]) -> str:
    """A hash of the stock tables: a blob mixes *these* tables, so it must name them."""
    digest = hashlib.sha256()
    for name, table in zip(names, tables, strict=True):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(table).tobytes())
    return digest.hexdigest()[:16]
