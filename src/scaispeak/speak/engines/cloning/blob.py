"""The voice embedding blob: everything the clone engine needs to speak in a fitted voice.

Format (``FORMAT_VERSION`` 1): an uncompressed ``.npz`` archive (numpy's zip of ``.npy``
arrays, read with ``allow_pickle=False``) holding

==================== ========================= =============================================
key                  dtype / shape             meaning
==================== ========================= =============================================
format_version       int64 ()                  layout of this archive (this module)
model_version        str ()                    the fitter that made it (settings); a blob
                                               from another fitter is rebuilt, not used
tables_fingerprint   str ()                    hash of the Kokoro stock tables it mixes
voices               str (n,)                  stock table names, in ``weights`` order
weights              float32 (n,)              mixing weights (softmax, sum 1)
offset               float32 (256,)            added to every row of the mixed table
world                float64 (3,)              target log-F0 mean, log-F0 std, formant
                                               warp; log-F0 mean 0 = no WORLD conversion
world_eq             float64 (bins,) or (0,)   long-term envelope correction (log power)
reference_embedding  float32 (256,)            Resemblyzer embedding of the reference
validation           float64 (2,)              held-out similarity: base voice, clone
nearest_stock        str ()                    the stock voice nearest the reference
fit_seconds          float64 ()                how long the fit took
==================== ========================= =============================================
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scaispeak.speak.engines.base import EngineError, OutdatedEngineVoice
from scaispeak.speak.engines.cloning.world import WorldConversion

FORMAT_VERSION = 1


class BlobError(EngineError):
    """The bytes are not a voice blob this engine can read."""


class BlobVersionMismatch(BlobError, OutdatedEngineVoice):
    """The blob was made by another fitter or for other stock tables: rebuild it.

    The service treats this like an evicted voice and refits from the reference clip.
    """


@dataclass(frozen=True)
class VoiceBlob:
    """A fitted voice, as stored."""

    model_version: str
    tables_fingerprint: str
    voices: tuple[str, ...]
    weights: npt.NDArray[np.float32]
    offset: npt.NDArray[np.float32]
    world: WorldConversion | None
    reference_embedding: npt.NDArray[np.float32]
    validation_base: float
    validation_clone: float
    nearest_stock: str
    fit_seconds: float

    def to_bytes(self) -> bytes:
        world = self.world or WorldConversion(0.0, 0.0)
        eq = world.eq if world.eq is not None else np.zeros(0)
        out = io.BytesIO()
        np.savez(
            out,
            format_version=np.int64(FORMAT_VERSION),
            model_version=np.str_(self.model_version),
            tables_fingerprint=np.str_(self.tables_fingerprint),
            voices=np.array(self.voices, dtype=np.str_),
            weights=self.weights.astype(np.float32),
            offset=self.offset.astype(np.float32),
            world=np.array([world.log_f0_mean, world.log_f0_std, world.warp], np.float64),
            world_eq=np.asarray(eq, np.float64),
            reference_embedding=self.reference_embedding.astype(np.float32),
            validation=np.array([self.validation_base, self.validation_clone], np.float64),
            nearest_stock=np.str_(self.nearest_stock),
            fit_seconds=np.float64(self.fit_seconds),
        )
        return out.getvalue()

    @staticmethod
    def from_bytes(data: bytes, *, model_version: str, tables_fingerprint: str) -> VoiceBlob:
        """Parse a blob, insisting it was made by ``model_version`` for these tables."""
        arrays = _arrays(data)
        found = int(arrays["format_version"])
        if found != FORMAT_VERSION:
            raise BlobVersionMismatch(f"blob format {found}, this engine reads {FORMAT_VERSION}")
        if str(arrays["model_version"]) != model_version:
            raise BlobVersionMismatch(
                f"blob made by {str(arrays['model_version'])!r}, engine runs {model_version!r}"
            )
        if str(arrays["tables_fingerprint"]) != tables_fingerprint:
            raise BlobVersionMismatch("blob mixes other Kokoro style tables than installed")
        try:
            return _blob(arrays)
        except (KeyError, ValueError, IndexError) as exc:
            raise BlobError(f"voice blob is incomplete: {exc}") from exc


def version_parts(data: bytes) -> tuple[str, str]:
    """The model version and stock-tables fingerprint a blob was made with."""
    arrays = _arrays(data)
    try:
        return str(arrays["model_version"]), str(arrays["tables_fingerprint"])
    except KeyError as exc:
        raise BlobError(f"voice blob is incomplete: {exc}") from exc


def _arrays(data: bytes) -> dict[str, Any]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BlobError(f"not a voice blob: {exc}") from exc


def _blob(arrays: dict[str, Any]) -> VoiceBlob:
    log_f0_mean, log_f0_std, warp = (float(v) for v in arrays["world"])
    eq = np.asarray(arrays["world_eq"], np.float64)
    world = (
        WorldConversion(log_f0_mean, log_f0_std, warp, eq if eq.size else None)
        if log_f0_mean != 0.0 or warp != 1.0 or eq.size
        else None
    )
    base, clone = (float(v) for v in arrays["validation"])
    return VoiceBlob(
        model_version=str(arrays["model_version"]),
        tables_fingerprint=str(arrays["tables_fingerprint"]),
        voices=tuple(str(v) for v in arrays["voices"]),
        weights=np.asarray(arrays["weights"], np.float32),
        offset=np.asarray(arrays["offset"], np.float32),
        world=world,
        reference_embedding=np.asarray(arrays["reference_embedding"], np.float32),
        validation_base=base,
        validation_clone=clone,
        nearest_stock=str(arrays["nearest_stock"]),
        fit_seconds=float(arrays["fit_seconds"]),
    )
