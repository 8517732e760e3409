"""Listing cursors: a keyset position as base64 JSON, opaque to clients.

A cursor comes back from the client, who may forge it: anything but what ``encode``
made is refused here in one way (``InvalidCursor``, 400), never a 500 from deeper
down: JSON nested past the parser's depth, or a NUL character (PostgreSQL refuses it
in text, and the query failed).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from scaispeak.platform.errors import BadRequest

MAX_CURSOR_CHARS = 2048
"""Far above any cursor this service makes (a path or a sort key)."""


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "Invalid cursor"


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode(cursor: str) -> Any:
    """The value ``encode`` put in ``cursor``; its shape is the caller's to check."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise refused()
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        value = json.loads(text)
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise refused() from exc
    if "\\u0000" in json.dumps(value):  # how JSON writes a NUL wherever it was
        raise refused()
    return value


def refused() -> InvalidCursor:
    return InvalidCursor("The cursor is not valid; start again without one.")
