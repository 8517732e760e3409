"""A request's head (request line and headers) is bounded, as every body is."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from scaispeak.platform.http_protocol import HEAD_MAX_BYTES
from tests.support.server import ServerThread


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    with ServerThread(app) as running:
        yield running


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` whole (or until the server hangs up), then read to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The server may answer and close while the head is still arriving.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _get(extra_header_bytes: int, *, close: bool = True) -> bytes:
    header = b"X-Big: " + b"a" * extra_header_bytes + b"\r\n" if extra_header_bytes else b""
    connection = b"Connection: close\r\n" if close else b""
    return b"GET /ping HTTP/1.1\r\nHost: x\r\n" + header + connection + b"\r\n"


def test_a_head_over_the_limit_is_a_431_and_the_connection_closes(server: ServerThread) -> None:
    answer = _exchange(server.port, _get(8 * 1024 * 1024))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "headers_too_large"


def test_heads_under_the_limit_are_served_on_a_kept_alive_connection(
    server: ServerThread,
) -> None:
    """Each request's head is counted alone: two heads that are together over the limit,
    on one connection, are both answered."""
    near = HEAD_MAX_BYTES - 1024
    answer = _exchange(server.port, _get(near, close=False) + _get(near))
    assert answer.count(b"HTTP/1.1 200 OK") == 2, answer[:300]
