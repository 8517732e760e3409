"""Structured (JSON lines) logging for the service."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# A word as a log line quotes it: a path, a URL, a header's value.
_WORD = re.compile(r"[^\s\"']+")
_USERINFO = re.compile(r"://[^/\s\"'@]+@")
_API_KEY = re.compile(r"ssk_[A-Za-z0-9_-]+")  # the secret is URL-safe base64: - too
# A header's value however it is printed (``'Authorization': 'Bearer …'`` in a
# client library's repr of its request, ``Authorization: Basic …`` in a raw dump),
# then any bearer token left elsewhere (an upstream echoing the key it refused).
_AUTHORIZATION = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\n,}]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",}\]]+")


def redact(text: str) -> str:
    """Remove what must never reach a log: query strings (a browser's ``?token=``, a
    webhook URL's secret), credentials in URLs, API keys, and authorization headers
    and bearer tokens (the relay's key for its upstream).

    uvicorn logs every WebSocket's path with its query string, where browsers must put
    their token (and some clients put an API key, which is then refused, but logged).
    """
    text = _WORD.sub(_without_query, text)
    text = _USERINFO.sub("://[redacted]@", text)
    text = _AUTHORIZATION.sub(r"\1[redacted]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    return _API_KEY.sub("ssk_[redacted]", text)


def _without_query(word: re.Match[str]) -> str:
    """The word up to the first ``?`` after its first ``/``. Found with ``str.find``: the
    regex this replaced rescanned from every ``/``, so a path of 8,000 slashes with no
    ``?`` (a WebSocket handshake, logged before any key is checked) held the event
    loop for 0.4 s."""
    text = word.group()
    query = text.find("?", text.find("/") + 1) if "/" in text else -1
    return text if query < 0 else text[:query] + "?[redacted]"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        entry.update({k: redact(v) if isinstance(v, str) else v for k, v in extra.items()})
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


_CHATTY_AT_INFO = ("alembic.runtime.plugins", "faster_whisper")
# Loggers that would write what callers send, at any level: httpx names each request's
# whole URL at info (a webhook's URL keeps its receiver's secret in the path, which the
# service itself logs only as scheme and host), httpcore its headers at debug, and
# aiosqlite each statement's parameters at debug (users' text and addresses).
_TELLING = ("httpx", "httpcore", "aiosqlite")


_CLIENT_FAULTS = frozenset({"Invalid UTF-8 sequence received from client."})
"""What uvicorn logs as an ERROR with a traceback, though the fault is the client's and
it is answered (close 1007): any unauthenticated client could fill the error log."""


class ClientFaultsAsWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _CLIENT_FAULTS:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries' chatter at info, which operators took for the service's own: alembic's
    # plugin set-up at every start, faster-whisper's "Processing audio" per recognition.
    for chatty in _CHATTY_AT_INFO:
        logging.getLogger(chatty).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
        )
    for telling in _TELLING:
        logging.getLogger(telling).setLevel(logging.WARNING)
    uvicorn = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientFaultsAsWarnings) for f in uvicorn.filters):
        uvicorn.addFilter(ClientFaultsAsWarnings())
