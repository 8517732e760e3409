"""Listing cursors: a keyset position as base64 JSON, opaque to clients.

A cursor comes back from the client, who may forge it: anything but what ``encode``
made is refused here in one way (``InvalidCursor``, 400), never a 500 from deeper
down: JSON nested past the parser's depth, a NUL character (PostgreSQL refuses it
in text, and the query failed) or a lone surrogate (no database driver can bind it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
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
    if not all(_storable(text) for text in _strings(value)):
        raise refused()
    return value


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


def _storable(text: str) -> bool:
    """Whether a database can take ``text``: no NUL (PostgreSQL refuses it) and no lone
    surrogate (it cannot be encoded to bind at all)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refused() -> InvalidCursor:
    return InvalidCursor("The cursor is not valid; start again without one.")
