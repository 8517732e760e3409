"""File-path rules and HTTP Range parsing, as pure functions."""

from __future__ import annotations

import unicodedata

import pytest

from scaispeak.platform.drive.errors import InvalidPath
from scaispeak.platform.drive.paths import (
    MAX_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    normalize_path,
    normalize_prefix,
)
from scaispeak.platform.ranges import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    "path", ["a.wav", "books/ch 1/part-01.mp3", "ünïcode/日本語.txt", "x" * MAX_SEGMENT_BYTES]
)
def test_valid_paths_are_kept(path: str) -> None:
    assert normalize_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs.wav",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        "..",
        "a/../b",
        "a\\b",
        "a\x00b",
        "tab\there",
        "\x85a",  # a C1 control (NEL)
        "a\u2028b",  # a line separator
        "a\u202eb.txt",  # right-to-left override: spoofs the name's display
        "a\ufffd",  # undecodable bytes in the URL
        "a\ud800",
        "x" * (MAX_SEGMENT_BYTES + 1),
        "/".join(["d" * 200] * 6),  # every segment fine, the whole too long
        "/".join("a" * 33),  # too deep
    ],
)
def test_invalid_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidPath):
        normalize_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "\uff0e\uff0e/x",
        "a/\u2025/b",  # one "two dot leader" is ".." folded
        "a\uff0f..\uff0fb",
        "a\uff3c\uff0e\uff0e",
        "\uff0fetc\uff0fcron.d\uff0fx",  # folds into an absolute path (helper-92)
        "\uff3c\uff3cserver\uff3cshare",  # a Windows UNC path
        "a\uff0f\uff0fb",
    ],
)
def test_new_names_that_fold_into_dot_segments_are_refused_but_old_ones_stay_reachable(
    path: str,
) -> None:
    """A syncing client that folds compatibility forms (NFKC) read these as ".." and
    wrote another path on its disk (helper-90). Files stored before the rule must still
    be read and deleted (helper-91)."""
    with pytest.raises(InvalidPath):
        normalize_path(path, writing=True)
    assert normalize_path(path) == path


def test_a_fullwidth_slash_between_names_is_allowed() -> None:
    """Common in Japanese names, where '/' cannot be typed into a file name."""
    assert normalize_path("2024\uff0f03 report.txt", writing=True) == "2024\uff0f03 report.txt"


def test_path_limits_count_utf8_bytes_not_characters() -> None:
    assert len("é".encode()) == 2
    with pytest.raises(InvalidPath):
        normalize_path("/".join(["é" * 127] * ((MAX_PATH_BYTES // 255) + 1)))


def test_paths_are_nfc_normalised_so_one_name_is_one_file() -> None:
    decomposed = unicodedata.normalize("NFD", "café.wav")
    assert decomposed != "café.wav"
    assert normalize_path(decomposed) == "café.wav"


def test_prefixes_may_be_partial_but_not_absolute() -> None:
    assert normalize_prefix("") == ""
    assert normalize_prefix("books/") == "books/"
    with pytest.raises(InvalidPath):
        normalize_prefix("/books")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=10-19", (10, 20)),
        ("bytes=90-", (90, 100)),
        ("bytes=-5", (95, 100)),
        ("bytes=-500", (0, 100)),  # a suffix longer than the file is the whole file
        ("bytes=50-5000", (50, 100)),  # an end past the file is clipped
        ("bytes=99-99", (99, 100)),
    ],
)
def test_satisfiable_ranges(header: str, expected: tuple[int, int]) -> None:
    got = parse_range(header, 100)
    assert got is not None and (got.start, got.stop) == expected


@pytest.mark.parametrize(
    "header",
    [
        *(None, "", "items=0-1", "bytes=0-1,5-6", "bytes=5-2", "bytes=-", "bytes=a-b"),
        "bytes=" + "1" * 5000 + "-",  # int() refused it: a 500
        "bytes=-" + "9" * 5000,
    ],
)
def test_ranges_we_ignore_serve_the_whole_file(header: str | None) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_unsatisfiable_ranges_raise_416_with_the_size(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.status == 416
    assert caught.value.headers["Content-Range"] == f"bytes */{size}"


def test_content_range_uses_inclusive_end() -> None:
    assert ByteRange(10, 20, 100).content_range == "bytes 10-19/100"
    assert ByteRange(10, 20, 100).length == 10
