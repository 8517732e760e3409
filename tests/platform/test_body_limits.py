"""Request bodies are counted as they arrive: no length header, or a false one, and no
content type gets a body past its limit, authenticated or not."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scaispeak.app import UPLOAD_ROUTES
from scaispeak.platform.body_limits import MULTIPART_MAX_BYTES
from scaispeak.settings import Limits
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem

JSON_LIMIT = 10_000
DRIVE_LIMIT = 50_000


class ChunkedBody:
    """A body sent without Content-Length, which counts how much the server pulled."""

    def __init__(self, head: bytes, chunk: bytes, chunks: int, tail: bytes = b"") -> None:
        self.parts = [head, *([chunk] * chunks), tail]
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.pulled += len(part)
            yield part


@pytest.fixture
async def small_limits(tmp_path: Path, engines: EngineRegistry) -> AsyncIterator[LiveApp]:
    limits = Limits(max_json_bytes=JSON_LIMIT, drive_upload_max_bytes=DRIVE_LIMIT)
    async with started_app(make_settings(tmp_path, limits=limits), engines) as app:
        yield app


async def test_chunked_json_over_the_limit_is_413_and_read_no_further(
    small_limits: LiveApp,
) -> None:
    """Without credentials, too: the body is refused before anyone is authenticated."""
    body = ChunkedBody(b'{"ttl_seconds": 60, "pad": "', b"a" * 4096, 100, b'"}')
    response = await small_limits.client.post(
        "/v1/auth/tokens", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")
    assert response.json()["limit"] == JSON_LIMIT
    assert body.pulled < JSON_LIMIT + 2 * 4096


async def test_body_of_another_content_type_over_the_limit_is_413(small_limits: LiveApp) -> None:
    headers = small_limits.auth(small_limits.tenancy.member_a) | {"content-type": "text/plain"}
    body = ChunkedBody(b"", b"a" * 4096, 10)
    response = await small_limits.client.post(
        "/v1/modules/scaispeak/speak", content=body, headers=headers
    )
    assert_problem(response, 413, "payload_too_large")


async def test_declared_length_over_the_limit_is_413_for_any_content_type(
    small_limits: LiveApp,
) -> None:
    response = await small_limits.client.post(
        "/v1/auth/tokens",
        content=b"x" * (JSON_LIMIT + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 413, "payload_too_large")


async def test_chunked_json_within_the_limit_is_read(small_limits: LiveApp) -> None:
    headers = small_limits.auth(small_limits.tenancy.member_a)
    body = ChunkedBody(b'{"ttl_seconds": 60', b" " * 1000, 5, b"}")
    made = await small_limits.client.post(
        "/v1/auth/tokens", content=body, headers=headers | {"content-type": "application/json"}
    )
    assert made.status_code == 201, made.text


async def test_chunked_multipart_over_the_upload_ceiling_is_413_and_read_no_further(
    small_limits: LiveApp,
) -> None:
    """The multipart parser spools files to disk; the ceiling bounds that disk."""
    boundary = "limit-test"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    mib = b"\x00" * 1024**2
    body = ChunkedBody(
        head, mib, MULTIPART_MAX_BYTES // len(mib) + 8, f"\r\n--{boundary}--\r\n".encode()
    )
    response = await small_limits.client.post(
        "/v1/modules/scaispeak/voices/preflight",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        | small_limits.auth(small_limits.tenancy.member_a),
    )
    assert_problem(response, 413, "payload_too_large")
    assert body.pulled <= MULTIPART_MAX_BYTES + 2 * len(mib)


@pytest.mark.parametrize("credential", [None, "Bearer ssk_000000000000_forged", "Bearer x.y.z"])
async def test_an_upload_without_a_valid_credential_is_refused_before_its_body_is_read(
    small_limits: LiveApp, credential: str | None
) -> None:
    """FastAPI parses a form before any dependency: anyone could make the server spool
    128 MiB to disk per connection before the 401 (helper-90)."""
    boundary = "no-key"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    body = ChunkedBody(head.encode(), b"\x00" * 1024**2, 20, f"\r\n--{boundary}--\r\n".encode())
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for method, pattern in UPLOAD_ROUTES:
        path = pattern.pattern.replace("[^/]+", "voc_any")
        response = await small_limits.client.request(
            method,
            path,
            content=body,
            headers=headers | ({"authorization": credential} if credential else {}),
        )
        assert_problem(response, 401, "unauthorized")
        assert body.pulled == 0, path


async def test_chunked_drive_uploads_keep_the_drives_own_limit(small_limits: LiveApp) -> None:
    headers = small_limits.auth(small_limits.tenancy.member_a)
    share = await small_limits.client.post(
        "/v1/drive/shares", json={"name": "limits"}, headers=headers
    )
    files = f"/v1/drive/shares/{share.json()['id']}/files"
    fits = ChunkedBody(b"", b"x" * 10_000, 4)  # over the JSON limit, within the drive's
    stored = await small_limits.client.put(f"{files}/fits.bin", content=fits, headers=headers)
    assert stored.status_code == 201, stored.text
    assert stored.json()["size"] == 40_000
    too_big = ChunkedBody(b"", b"x" * 10_000, 6)
    refused = await small_limits.client.put(f"{files}/big.bin", content=too_big, headers=headers)
    assert_problem(refused, 413, "upload_too_large")


async def test_only_a_drive_file_upload_skips_the_json_limit(small_limits: LiveApp) -> None:
    """A member route whose share is named "files" looked like an upload, and its JSON
    body was read whole; unauthenticated, too, since the body is read first."""
    body = ChunkedBody(b'{"role": "read", "pad": "', b"a" * 4096, 100, b'"}')
    response = await small_limits.client.put(
        "/v1/drive/shares/files/members/usr_x",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")
    assert body.pulled < JSON_LIMIT + 2 * 4096


async def test_the_longest_job_text_escaped_whole_fits_the_default_json_limit(
    sqlite_app: LiveApp,
) -> None:
    """500,000 emoji, each escaped as a surrogate pair (12 bytes), as a client that
    escapes everything sends them: read, not refused as too large (emoji alone are not
    spoken, so the answer is empty_text)."""
    text = "\U0001f600" * sqlite_app.app.state.platform.settings.jobs.max_chars
    body = json.dumps({"text": text, "voice_id": "voc_piper_en-us-joe-medium", "mode": "async"})
    assert len(body) > 6_000_000
    response = await sqlite_app.client.post(
        "/v1/modules/scaispeak/speak",
        content=body,
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a) | {"content-type": "application/json"},
    )
    assert_problem(response, 422, "empty_text")


async def test_a_multipart_label_does_not_lift_the_limit_off_other_routes(
    small_limits: LiveApp,
) -> None:
    """FastAPI reads a body before it authenticates: any route labelled multipart took
    the 128 MiB upload ceiling, unauthenticated."""
    body = ChunkedBody(b"--zz\r\n", b"a" * 4096, 100, b"\r\n--zz--\r\n")
    response = await small_limits.client.post(
        "/v1/auth/tokens",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=zz"},
    )
    assert_problem(response, 413, "payload_too_large")
    assert body.pulled < JSON_LIMIT + 2 * 4096


def test_the_upload_routes_are_every_route_taking_multipart(small_limits: LiveApp) -> None:
    """The ceiling's list of routes is written by hand: a new upload route must join it."""
    spec = small_limits.app.openapi()
    takes_multipart = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
    }
    listed = {
        (method, path)
        for method, path in takes_multipart
        for listed_method, pattern in UPLOAD_ROUTES
        if method == listed_method and pattern.fullmatch(re.sub(r"\{[^}]+\}", "x", path))
    }
    assert takes_multipart and listed == takes_multipart
    assert len(UPLOAD_ROUTES) == len(takes_multipart)
