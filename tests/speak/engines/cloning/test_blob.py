"""The voice blob: it round-trips, and a blob from another fitter or table set is refused."""

from __future__ import annotations

import io

import numpy as np
import pytest

from scaispeak.speak.engines.cloning import BlobError, BlobVersionMismatch, VoiceBlob
from scaispeak.speak.engines.cloning.world import WorldConversion

VERSION = "test-fitter-1"
TABLES = "abc123"


def _blob(world: WorldConversion | None = None) -> VoiceBlob:
    rng = np.random.default_rng(1)
    return VoiceBlob(
        model_version=VERSION,
        tables_fingerprint=TABLES,
        voices=("jf_alpha", "jm_kumo"),
        weights=np.array([0.25, 0.75], np.float32),
        offset=rng.standard_normal(256).astype(np.float32),
        world=world,
        reference_embedding=rng.standard_normal(256).astype(np.float32),
        validation_base=0.61,
        validation_clone=0.74,
        nearest_stock="kokoro:jm_kumo",
        fit_seconds=12.5,
    )


def _read(data: bytes, version: str = VERSION, tables: str = TABLES) -> VoiceBlob:
    return VoiceBlob.from_bytes(data, model_version=version, tables_fingerprint=tables)


def test_blob_round_trips_without_conversion() -> None:
    blob = _blob()
    back = _read(blob.to_bytes())
    assert back.voices == blob.voices
    np.testing.assert_array_equal(back.weights, blob.weights)
    np.testing.assert_array_equal(back.offset, blob.offset)
    np.testing.assert_array_equal(back.reference_embedding, blob.reference_embedding)
    assert back.world is None
    assert (back.validation_base, back.validation_clone) == (0.61, 0.74)
    assert back.nearest_stock == "kokoro:jm_kumo"
    assert back.fit_seconds == 12.5


def test_blob_round_trips_a_world_conversion() -> None:
    eq = np.linspace(-0.5, 0.5, 513)
    back = _read(_blob(WorldConversion(5.1, 0.2, 1.05, eq)).to_bytes())
    assert back.world is not None
    assert (back.world.log_f0_mean, back.world.log_f0_std, back.world.warp) == (5.1, 0.2, 1.05)
    assert back.world.eq is not None
    np.testing.assert_array_equal(back.world.eq, eq)


def test_blob_from_another_fitter_version_is_refused() -> None:
    with pytest.raises(BlobVersionMismatch, match="test-fitter-1"):
        _read(_blob().to_bytes(), version="test-fitter-2")


def test_blob_for_other_style_tables_is_refused() -> None:
    with pytest.raises(BlobVersionMismatch, match="tables"):
        _read(_blob().to_bytes(), tables="def456")


def test_blob_of_another_format_is_refused() -> None:
    arrays = dict(np.load(io.BytesIO(_blob().to_bytes())))
    arrays["format_version"] = np.int64(99)
    out = io.BytesIO()
    np.savez(out, **arrays)
    with pytest.raises(BlobVersionMismatch, match="format 99"):
        _read(out.getvalue())


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_garbage_is_not_a_blob(data: bytes) -> None:
    with pytest.raises(BlobError):
        _read(data)


def test_blob_never_unpickles() -> None:
    out = io.BytesIO()
    np.savez(out, format_version=np.array([object()], dtype=object))
    with pytest.raises(BlobError):
        _read(out.getvalue())
