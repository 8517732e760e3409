"""HTTP byte ranges (RFC 9110 §14): parse one ``Range`` header against a known size.

Shared by every download that serves stored bytes (drive files, job audio). Only a
single range is served; a header we do not understand, or several ranges, is ignored
and the whole representation is sent, which the RFC allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scaispeak.platform.errors import ServiceError

_SINGLE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
"""Positions past 19 digits are more than any file holds (and past 4,300, int() refuses
them): such a header is ignored, as any other it cannot use."""


class RangeNotSatisfiable(ServiceError):
    """The range starts past the end, or asks for the last zero bytes."""

    status, code, title = 416, "range_not_satisfiable", "Range not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"The file has {size} bytes; the range lies outside it.", size=size)
        self.headers["Content-Range"] = f"bytes */{size}"


@dataclass(frozen=True)
class ByteRange:
    start: int
    stop: int
    """Exclusive, like a slice."""
    size: int
    """Size of the whole representation."""

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve (206), None to serve everything (200), or RangeNotSatisfiable."""
    match = _SINGLE.match((header or "").strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - count), size, size)
    start = int(first)
    if last and int(last) < start:
        return None  # syntactically invalid: ignored, per RFC 9110 §14.2
    if start >= size:
        raise RangeNotSatisfiable(size)
    stop = size if not last else min(int(last) + 1, size)
    return ByteRange(start, stop, size)
