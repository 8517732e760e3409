"""How many bytes a request body may carry, counted as they arrive.

A ``Content-Length`` over the limit is refused before anything is read; a body without
one (chunked) or that lies about it is counted in a wrapped ``receive`` and refused the
moment it passes the limit, so no request can make the server buffer more than the
limit, whatever its content type and whether or not it is authenticated.

Limits by request:

- drive file uploads (``PUT /v1/drive/shares/{id}/files/{path}``): none here. The
  drive streams them to storage and counts them itself against
  ``SCAISPEAK_LIMITS__DRIVE_UPLOAD_MAX_BYTES`` (drive/files.py).
- ``multipart/form-data`` to a route that takes uploads (voice clips and documents,
  ``/detect``; the app names them, ``upload_routes``): ``MULTIPART_MAX_BYTES``, a
  ceiling above every upload route's own caps (2 x 25 MiB clips + a 10 MiB document by
  default), which those routes still apply per file. The multipart parser spools files
  to disk; this bounds that disk, for callers with a credential (platform/upload_auth.py
  refuses the rest before a byte is read).
- everything else (JSON, and anything sent where JSON belongs, multipart included):
  ``max_json_bytes``. FastAPI reads a body before it authenticates, so a multipart
  label must not lift the limit on every route.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scaispeak.platform.errors import PayloadTooLarge, problem_response

MULTIPART_MAX_BYTES = 128 * 1024**2
"""Only a ceiling for the multipart parser's spool: each upload route applies its own,
smaller, configurable cap per file (docs/configuration.md), so this needs no setting."""


WEBSOCKET_MESSAGE_MAX_BYTES = 4 * 1024**2
"""The largest WebSocket message the server reads (uvicorn's ``ws_max_size``; its default
is 16 MiB): a larger one closes the connection (1009) before it is buffered. Room for a
live intake's longest step sent as one message (30 s of 16-bit audio at 48 kHz, 2.9
MB); a stream's text messages have a smaller limit of their own (streaming/protocol.py)."""


class BodyTooLarge(PayloadTooLarge):
    """The request body passed its limit while it was being read."""


_DRIVE_UPLOAD = re.compile(r"/v1/drive/shares/[^/]+/files/.+")
"""The one route that counts its own body: PUT of a drive file (the method too: any
other request whose path merely looks like this is held to the JSON limit)."""


UploadRoute = tuple[str, re.Pattern[str]]
"""A route taking multipart uploads: its method and a pattern its whole path matches."""


def body_limit(
    method: str,
    headers: Headers,
    path: str,
    max_json_bytes: int,
    upload_routes: Sequence[UploadRoute] = (),
) -> int | None:
    """The most bytes this request's body may carry, or None where its route counts."""
    if method == "PUT" and _DRIVE_UPLOAD.fullmatch(path):
        return None
    multipart = headers.get("content-type", "").lower().startswith("multipart/form-data")
    if multipart and takes_uploads(method, path, upload_routes):
        return MULTIPART_MAX_BYTES
    return max_json_bytes


def takes_uploads(method: str, path: str, upload_routes: Sequence[UploadRoute]) -> bool:
    """Whether the request goes to one of the routes that take multipart uploads."""
    return any(m == method and p.fullmatch(path) for m, p in upload_routes)


class BodyLimit:
    """ASGI middleware that answers 413 ``payload_too_large`` for an oversized body.

    Once the counted body passes the limit, ``receive`` raises ``BodyTooLarge`` in
    whatever is reading it, and whatever response the app then makes of that (FastAPI
    turns a failed body read into a 400) is replaced by the 413, as long as the
    response has not started.
    """

    def __init__(
        self, app: ASGIApp, max_json_bytes: int, upload_routes: Sequence[UploadRoute] = ()
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.upload_routes = upload_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = body_limit(
            scope["method"], headers, scope["path"], self.max_json_bytes, self.upload_routes
        )
        if limit is None:
            await self.app(scope, receive, send)
            return
        if _declared_length(headers) > limit:
            await _too_large(limit, scope)(scope, receive, send)
            return
        await _CountedRequest(limit, scope, receive, send).run(self.app)


class _CountedRequest:
    def __init__(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        self.limit = limit
        self.scope = scope
        self._receive = receive
        self._send = send
        self.received = 0
        self.exceeded = False
        self.response_started = False
        self.answered = False

    async def run(self, app: ASGIApp) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except Exception:
            if not self.exceeded or self.response_started:
                raise
            # An error the refused body caused: the 413 says why.
        if self.exceeded and not self.response_started and not self.answered:
            await self._answer()

    async def receive(self) -> Message:
        if self.exceeded:
            raise self._error()
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.exceeded = True
                raise self._error()
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the rest of the app's response to the body it could not read
        if self.exceeded and not self.response_started:
            await self._answer()
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def _answer(self) -> None:
        """The 413, in place of whatever the app makes of a body it could not read."""
        self.answered = True
        await _too_large(self.limit, self.scope)(self.scope, self._receive, self._send)

    def _error(self) -> BodyTooLarge:
        return BodyTooLarge(_detail(self.limit), limit=self.limit)


def _declared_length(headers: Headers) -> int:
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


def _detail(limit: int) -> str:
    return f"This request's body is limited to {limit} bytes."


def _too_large(limit: int, scope: Scope) -> ASGIApp:
    error = BodyTooLarge(_detail(limit))
    return problem_response(
        error.status, error.code, error.title, error.detail, scope["path"], limit=limit
    )
