"""uvicorn's HTTP protocol (httptools) with a bound on each request's head.

httptools buffers a request line and headers of any size before the app sees them:
an anonymous client sending an 8 MB header was read in full and answered 200. Every
body and WebSocket message has a limit (``body_limits.py``); this is the head's. Past
it the connection gets a 431 (RFC 6585) and is closed, before authentication, with no
more than a read or two beyond the limit held in memory.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from scaispeak.platform.errors import PROBLEM_JSON, problem_body

# The request line and every header together. nginx allows 32 KiB by default (4 x 8k);
# the service's own headers are far smaller (a browser token travels in the query).
HEAD_MAX_BYTES = 64 * 1024


def _head_too_large_response() -> bytes:
    detail = f"The request line and headers may take at most {HEAD_MAX_BYTES} bytes."
    title = "Request Header Fields Too Large"
    problem = json.dumps(problem_body(431, "headers_too_large", title, detail)).encode()
    head = (
        f"HTTP/1.1 431 {title}\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(problem)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + problem


_HEAD_TOO_LARGE = _head_too_large_response()


def _malformed_request_response() -> bytes:
    """uvicorn's own answer to what does not parse as HTTP was plain text."""
    detail = "The request is not valid HTTP/1.1 (its request line, a header or its framing)."
    problem = json.dumps(problem_body(400, "malformed_request", "Bad Request", detail)).encode()
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(problem)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + problem


_MALFORMED_REQUEST = _malformed_request_response()


class _HeadRefused(Exception):
    """Raised from a parser callback to stop the parser: the 431 is already written."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """Counts the bytes that arrive while a request's head is being parsed, and those
    of a chunked body that are not the body itself: chunk sizes, their extensions and
    the trailer fields after the last chunk, which httptools also buffers whole (a
    4 MiB trailer was read after the app had answered)."""

    _head_bytes = 0
    _in_body = False
    _body_phase_bytes = 0  # read while the body (and its trailers) was being parsed
    _body_bytes = 0  # of those, the body's own

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            self._body_phase_bytes += len(data)
        else:
            self._head_bytes += len(data)
        super().data_received(data)
        # Checked once the read is parsed: one read may hold a whole request and the
        # start of the next, and only a head still unfinished is over the limit.
        if not self._in_body and self._head_bytes > HEAD_MAX_BYTES:
            self._refuse_head()
        elif self._in_body and self._framing_over_the_limit():
            self.transport.close()  # the app may be answering: no 431 across its reply

    def _framing_over_the_limit(self) -> bool:
        """Chunk framing is a few bytes a chunk: a quarter of the body on top of the
        head's limit allows chunks down to a few dozen bytes."""
        framing = self._body_phase_bytes - self._body_bytes
        return framing > HEAD_MAX_BYTES + self._body_bytes // 4

    def on_headers_complete(self) -> None:
        # A head that arrived whole in one read was never seen unfinished above, at any
        # size up to a read's (heads of up to 127 KiB were served): it is measured here.
        if self._parsed_head_bytes() > HEAD_MAX_BYTES:
            self._refuse_head()
            raise _HeadRefused
        self._in_body = True
        super().on_headers_complete()

    def _parsed_head_bytes(self) -> int:
        """The request target and every header, with their separators."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def send_400_response(self, msg: str) -> None:
        """What the parser refused, as problem+json; nothing after a 431 (the parser
        stopped because of it)."""
        if self.transport.is_closing():
            return
        self.transport.write(_MALFORMED_REQUEST)
        self.transport.close()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False  # a kept-alive connection's next request starts its head
        self._head_bytes = self._body_phase_bytes = self._body_bytes = 0

    def _refuse_head(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(_HEAD_TOO_LARGE)
            self.transport.close()
