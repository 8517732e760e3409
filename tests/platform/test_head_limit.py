"""A request's head (request line and headers) is bounded, as every body is."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request

from scaispeak.platform.http_protocol import HEAD_MAX_BYTES
from tests.support.server import ServerThread


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/length")
    async def length(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    with ServerThread(app) as running:
        yield running


def _exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` whole (or until the server hangs up), then read to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The server may answer and close while the head is still arriving.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        answer = b""
        with contextlib.suppress(ConnectionResetError):  # a close with our bytes unread
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


def _chunked(chunks: list[bytes], trailer: bytes = b"") -> bytes:
    head = b"POST /length HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return head + b"Connection: close\r\n\r\n" + body + b"0\r\n" + trailer + b"\r\n"


def test_a_chunked_body_of_many_chunks_is_read_whole(server: ServerThread) -> None:
    answer = _exchange(server.port, _chunked([b"x" * 1000] * 300))
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert b'{"bytes":300000}' in answer


def test_a_huge_trailer_after_a_chunked_body_is_cut_off(server: ServerThread) -> None:
    """Trailer fields are header fields too: httptools read a 4 MiB one whole."""
    answer = _exchange(
        server.port, _chunked([b"hello"], b"X-T: " + b"a" * 4 * 1024 * 1024 + b"\r\n")
    )
    assert not answer.startswith(b"HTTP/1.1 200 "), answer[:200]


@pytest.mark.parametrize("over_by", [1, 36 * 1024, 62 * 1024])
def test_a_head_over_the_limit_that_arrives_in_one_read_is_a_431(
    server: ServerThread, over_by: int
) -> None:
    """Only a head still unfinished after a read was counted: one that a read finished
    was served up to about 127 KiB, as TCP happened to split it."""
    answer = _exchange(server.port, _get(HEAD_MAX_BYTES + over_by))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head[:100]
    assert json.loads(body)["code"] == "headers_too_large"


def test_a_request_that_is_not_http_is_a_problem_json_400(server: ServerThread) -> None:
    answer = _exchange(server.port, b"GARBAGE\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "malformed_request"
