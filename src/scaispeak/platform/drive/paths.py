"""File paths within a share: one canonical spelling, or a clear refusal.

Paths are NFC-normalised (so ``é`` typed two ways is one file) and otherwise refused
rather than silently repaired: ``a//b`` or ``./a`` would make two spellings of a name.
Limits follow S3 keys and common file systems (bytes of UTF-8, not characters).
"""

from __future__ import annotations

import re
import unicodedata

from scaispeak.platform.drive.errors import InvalidPath

MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255
MAX_DEPTH = 32

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL and C1 controls
    "\u2028\u2029"  # line and paragraph separators
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides and isolates: they make
    # "gpj.exe" display as "exe.jpg"
    "\ufffd"  # the replacement character: what undecodable bytes in a URL became
    "\ud800-\udfff]"  # lone surrogates, which no UTF-8 can carry
)


def normalize_path(raw: str, *, writing: bool = False) -> str:
    """The canonical form of a file path, or InvalidPath saying what is wrong.
    ``writing``: for a new name, which must not fold into '.' or '..' either (files
    stored before that rule stay readable and deletable)."""
    path = unicodedata.normalize("NFC", raw)
    if not path:
        raise InvalidPath("The path is empty.")
    if path.startswith("/"):
        raise InvalidPath("Paths are relative to the share; drop the leading '/'.")
    if "\\" in path or _CONTROL.search(path):
        raise InvalidPath(
            "Paths may not contain backslashes, control characters, line separators, "
            "bidi overrides or U+FFFD."
        )
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidPath(f"Paths are limited to {MAX_PATH_BYTES} bytes of UTF-8.")
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidPath(f"Paths are limited to {MAX_DEPTH} segments.")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise InvalidPath("Paths may not have empty, '.' or '..' segments.")
        if writing and _folds_into_a_dot_segment(segment):
            raise InvalidPath(
                "Paths may not use look-alikes that fold into '.' or '..' segments (fullwidth"
                " dots and slashes): a client that folds them would write another path."
            )
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidPath(f"Path segments are limited to {MAX_SEGMENT_BYTES} bytes.")
    return path


def _folds_into_a_dot_segment(segment: str) -> bool:
    """Whether NFKC, which sync clients and some file systems apply, gives ``segment`` a
    ``.``, ``..`` or empty part ("\uff0e\uff0e", "a\uff0f..\uff0fb", "\uff0fetc\uff0fx",
    which folds into an absolute path). A fullwidth slash between names
    ("2024\uff0f03 report.txt", common in Japanese) stays allowed."""
    if segment.isascii():
        return False
    folded = unicodedata.normalize("NFKC", segment).replace("\\", "/")
    return any(part in ("", ".", "..") for part in folded.split("/"))


def normalize_prefix(raw: str) -> str:
    """A listing prefix: any leading part of a valid path (may end in '/', may be empty)."""
    prefix = unicodedata.normalize("NFC", raw)
    if prefix.startswith("/") or "\\" in prefix or _CONTROL.search(prefix):
        raise InvalidPath("A prefix is the start of a relative path.")
    if len(prefix.encode()) > MAX_PATH_BYTES:
        raise InvalidPath(f"Prefixes are limited to {MAX_PATH_BYTES} bytes of UTF-8.")
    return prefix


def file_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
