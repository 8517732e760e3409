"""Files over HTTP: upload, list, download with Range, delete, limits (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from scaispeak.platform.drive import files
from tests.conftest import LiveApp
from tests.platform.drive.client import DriveClient
from tests.platform.test_auth import assert_problem
from tests.speak.test_voices import FORGED_CURSORS

BODY = bytes(range(100))


@pytest.fixture
async def drive(live: LiveApp) -> tuple[DriveClient, str]:
    client = DriveClient(live, live.tenancy.member_a)
    return client, await client.new_share()


async def test_upload_records_size_sha256_and_content_type(drive: tuple[DriveClient, str]) -> None:
    client, share = drive
    made = await client.put(share, "audio/take 1.wav", BODY, {"content-type": "audio/wav"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["size"] == 100 and body["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert body["content_type"] == "audio/wav" and body["path"] == "audio/take 1.wav"
    assert body["url"] == client.file_url(share, "audio/take 1.wav")
    got = await client.get(share, "audio/take 1.wav")
    assert got.status_code == 200 and got.content == BODY
    assert got.headers["content-type"] == "audio/wav"
    assert got.headers["etag"] == f'"{body["sha256"]}"'
    assert got.headers["accept-ranges"] == "bytes"
    assert got.headers["content-disposition"] == "inline; filename*=UTF-8''take%201.wav"
    assert got.headers["x-content-type-options"] == "nosniff"


async def test_content_type_is_guessed_from_the_name_when_not_sent(
    drive: tuple[DriveClient, str],
) -> None:
    client, share = drive
    assert (await client.put(share, "song.mp3", b"ID3")).json()["content_type"] == "audio/mpeg"
    assert (await client.put(share, "blob", b"?")).json()["content_type"] == (
        "application/octet-stream"
    )
    for refused in ["not a type", "audio/x;, text/html", "image/png;,image/svg+xml"]:
        bad = await client.put(share, "x.bin", b"x", {"content-type": refused})
        assert_problem(bad, 422, "invalid_content_type")


async def test_overwrite_semantics(drive: tuple[DriveClient, str]) -> None:
    client, share = drive
    assert (await client.put(share, "a.txt", b"one")).status_code == 201
    replaced = await client.put(share, "a.txt", b"two!")
    assert replaced.status_code == 200 and replaced.json()["size"] == 4
    assert_problem(await client.put(share, "a.txt", b"3", overwrite="false"), 409, "file_exists")
    create_only = {"if-none-match": "*"}
    assert_problem(await client.put(share, "a.txt", b"3", create_only), 409, "file_exists")
    assert (await client.put(share, "b.txt", b"new", create_only)).status_code == 201
    assert (await client.get(share, "a.txt")).content == b"two!"


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=10-19", 10, 20),
        ("bytes=-7", 93, 100),
        ("bytes=95-", 95, 100),
        ("bytes=98-500", 98, 100),
    ],
)
async def test_range_requests_return_the_right_bytes(
    drive: tuple[DriveClient, str], header: str, start: int, stop: int
) -> None:
    client, share = drive
    await client.put(share, "r.bin", BODY)
    got = await client.get(share, "r.bin", {"range": header})
    assert got.status_code == 206
    assert got.content == BODY[start:stop]
    assert got.headers["content-range"] == f"bytes {start}-{stop - 1}/100"
    assert got.headers["content-length"] == str(stop - start)


async def test_unsatisfiable_range_is_416_with_content_range(
    drive: tuple[DriveClient, str],
) -> None:
    client, share = drive
    await client.put(share, "r.bin", BODY)
    got = await client.get(share, "r.bin", {"range": "bytes=100-"})
    assert_problem(got, 416, "range_not_satisfiable")
    assert got.headers["content-range"] == "bytes */100"


async def test_multiple_ranges_or_stale_if_range_get_the_whole_file(
    drive: tuple[DriveClient, str],
) -> None:
    client, share = drive
    etag = (await client.put(share, "r.bin", BODY)).json()["sha256"]
    assert (await client.get(share, "r.bin", {"range": "bytes=0-1,5-6"})).content == BODY
    stale = await client.get(share, "r.bin", {"range": "bytes=0-1", "if-range": '"old"'})
    assert stale.status_code == 200 and stale.content == BODY
    fresh = await client.get(share, "r.bin", {"range": "bytes=0-1", "if-range": f'"{etag}"'})
    assert fresh.status_code == 206 and fresh.content == BODY[:2]


async def test_a_current_copy_is_answered_304_without_the_file(
    drive: tuple[DriveClient, str],
) -> None:
    """The ETag was sent but a matching If-None-Match still got the whole file."""
    client, share = drive
    etag = '"' + (await client.put(share, "c.bin", BODY)).json()["sha256"] + '"'
    current = await client.get(share, "c.bin", {"if-none-match": f'"other", W/{etag}'})
    assert current.status_code == 304 and current.content == b""
    assert current.headers["etag"] == etag
    stale = await client.get(share, "c.bin", {"if-none-match": '"other"'})
    assert stale.status_code == 200 and stale.content == BODY


async def test_head_reports_size_without_a_body(drive: tuple[DriveClient, str]) -> None:
    client, share = drive
    await client.put(share, "r.bin", BODY)
    head = await client.head(share, "r.bin")
    assert head.status_code == 200 and head.headers["content-length"] == "100"
    assert head.content == b""


async def test_head_answers_a_range_as_the_get_does(drive: tuple[DriveClient, str]) -> None:
    """HEAD answered 200 with the whole length where the GET answered 206 or 416."""
    client, share = drive
    await client.put(share, "r.bin", BODY)
    for wanted in ("bytes=0-3", "bytes=-10", "bytes=100-"):
        got = await client.get(share, "r.bin", {"range": wanted})
        head = await client.head(share, "r.bin", {"range": wanted})
        assert head.status_code == got.status_code, wanted
        for name in ("content-length", "content-range", "content-type"):
            assert head.headers.get(name) == got.headers.get(name), (wanted, name)
    assert got.status_code == 416


@pytest.mark.parametrize("content_type", ["text/csv", "text/plain", "text/plain; charset=latin-1"])
async def test_a_text_file_is_served_with_the_type_it_was_stored_with(
    drive: tuple[DriveClient, str], content_type: str
) -> None:
    """Starlette added "charset=utf-8" to text types: a Latin-1 file was declared UTF-8."""
    client, share = drive
    await client.put(share, "l.csv", "café".encode("latin-1"), {"content-type": content_type})
    assert (await client.get(share, "l.csv")).headers["content-type"] == content_type
    assert (await client.head(share, "l.csv")).headers["content-type"] == content_type


async def test_a_delete_answers_204_with_no_content_type(drive: tuple[DriveClient, str]) -> None:
    client, share = drive
    await client.put(share, "gone.txt", b"bye")
    deleted = await client.delete(share, "gone.txt")
    assert deleted.status_code == 204 and "content-type" not in deleted.headers


async def test_listing_filters_by_prefix_and_pages_with_a_cursor(
    drive: tuple[DriveClient, str],
) -> None:
    client, share = drive
    paths = [f"book/ch{n:02d}.wav" for n in range(7)] + ["Book/upper.wav", "notes.txt"]
    for path in paths:
        assert (await client.put(share, path, path.encode())).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"prefix": "book/", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.list_files(share, **params)).json()
        seen += [item["path"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(p for p in paths if p.startswith("book/"))
    everything = (await client.list_files(share)).json()
    assert len(everything["items"]) == 9 and everything["next_cursor"] is None
    for forged in ["garbage", *FORGED_CURSORS]:
        assert_problem(await client.list_files(share, cursor=forged), 400, "invalid_cursor")


async def test_delete_removes_the_file_and_its_blob(
    live: LiveApp, drive: tuple[DriveClient, str]
) -> None:
    client, share = drive
    await client.put(share, "gone.txt", b"bye")
    storage = live.app.state.platform.storage
    keys = list((storage.root / "objects" / "drive" / share).iterdir())
    assert len(keys) == 1
    assert (await client.delete(share, "gone.txt")).status_code == 204
    assert_problem(await client.get(share, "gone.txt"), 404, "unknown_file")
    assert_problem(await client.delete(share, "gone.txt"), 404, "unknown_file")
    assert not keys[0].exists()


async def test_a_delete_racing_an_overwrite_leaves_no_blob_behind(
    live: LiveApp, drive: tuple[DriveClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is overwritten between the delete reading its row and deleting it: the
    overwrite's blob is the one to delete (the delete's read one is gone already)."""
    client, share = drive
    await client.put(share, "f.txt", b"old")
    load = files._load
    raced = False

    async def overwritten_after_the_read(*args: Any) -> Any:
        nonlocal raced
        row = await load(*args)
        if not raced:
            raced = True
            assert (await client.put(share, "f.txt", b"new")).status_code == 200
        return row

    monkeypatch.setattr(files, "_load", overwritten_after_the_read)
    assert (await client.delete(share, "f.txt")).status_code == 204
    assert raced
    assert_problem(await client.get(share, "f.txt"), 404, "unknown_file")
    storage = live.app.state.platform.storage
    assert list((storage.root / "objects" / "drive" / share).iterdir()) == []


@pytest.mark.parametrize(
    "path",
    [
        "a//b.txt",
        "a/%2E%2E/b.txt",
        "dir/",
        "%2E%2E",
        "a%ff",
        "a%E2%80%AEb.txt",
        # A line feed: "x%0A" wrote "x" (a route's $ matches before a final one), and
        # "a%0Ab" was the router's bare 404 (helper-86).
        "x.txt%0A",
        "a%0Ab.txt",
        "%EF%BC%8E%EF%BC%8E/x.txt",  # fullwidth "..": ".." to a client that folds it
    ],
)
async def test_invalid_paths_are_422(drive: tuple[DriveClient, str], path: str) -> None:
    client, share = drive
    url = f"/v1/drive/shares/{share}/files/{path}"
    response = await client.http.put(url, content=b"x", headers=client.headers)
    assert_problem(response, 422, "invalid_path")


async def test_a_path_with_a_final_line_feed_never_names_the_file_without_it(
    drive: tuple[DriveClient, str],
) -> None:
    client, share = drive
    await client.put(share, "x.txt", b"kept")
    url = f"/v1/drive/shares/{share}/files/x.txt%0A"
    assert_problem(await client.http.delete(url, headers=client.headers), 422, "invalid_path")
    assert (await client.get(share, "x.txt")).content == b"kept"


async def test_upload_over_the_limit_is_413_and_stores_nothing(
    live: LiveApp, drive: tuple[DriveClient, str]
) -> None:
    client, share = drive
    live.app.state.platform.settings.limits.drive_upload_max_bytes = 64
    declared = await client.put(share, "big.bin", b"x" * 65)
    assert_problem(declared, 413, "upload_too_large")

    async def undeclared() -> AsyncIterator[bytes]:  # chunked: no Content-Length up front
        for _ in range(10):
            yield b"y" * 16

    assert_problem(await client.put(share, "big.bin", undeclared()), 413, "upload_too_large")
    assert (await client.list_files(share)).json()["items"] == []
    objects = live.app.state.platform.storage.root / "objects"
    assert [p for p in objects.rglob("*") if p.is_file()] == []
    assert (await client.put(share, "small.bin", b"z" * 64)).status_code == 201


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("x.html", "text/html"), ("x.svg", None), ("x.xml", "Application/XHTML+XML; q=1")],
)
async def test_files_a_browser_would_run_are_attachments_with_no_script(
    drive: tuple[DriveClient, str], path: str, content_type: str | None
) -> None:
    """A member may store HTML; opened by a colleague through a ?token= URL it must not
    run script on the API's origin (where it could read that token)."""
    client, share = drive
    headers = {"content-type": content_type} if content_type else {}
    stored = await client.put(share, path, b"<script>alert(1)</script>", headers)
    assert stored.status_code == 201, stored.text
    for got in (await client.get(share, path), await client.head(share, path)):
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"


async def test_a_download_racing_an_overwrite_gets_a_whole_file(
    drive: tuple[DriveClient, str], live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is replaced between the download reading its row and opening its
    blob, which the overwrite deletes: the download reads the row again (it was a 500)."""
    client, share = drive
    assert (await client.put(share, "f.bin", b"old")).status_code == 201
    storage = live.app.state.platform.storage
    stream = storage.stream
    raced = False

    def overwritten_first(key: str, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            nonlocal raced
            if not raced:
                raced = True
                assert (await client.put(share, "f.bin", b"new")).status_code == 200
            async for chunk in stream(key, *args, **kwargs):
                yield chunk

        return chunks()

    monkeypatch.setattr(storage, "stream", overwritten_first)
    got = await client.get(share, "f.bin")
    assert raced and got.status_code == 200 and got.content == b"new"


def test_a_cursor_carries_any_path_the_drive_stores() -> None:
    """A path holding a backslash and "u0000" is text like any other (the NUL check read
    JSON's escaped form and refused it)."""
    path = "C:\\u0000 notes.txt"
    assert files._decode_cursor(files._encode_cursor(path)) == path


async def test_a_file_stored_before_the_look_alike_rule_can_still_be_replaced(
    drive: tuple[DriveClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule is for new names: an old file under one could be read and deleted, but
    a key could not replace it (helper-92)."""
    from scaispeak.platform.drive import paths

    client, share = drive
    name = "\uff0e\uff0e"  # fullwidth ".."
    with monkeypatch.context() as before_the_rule:
        before_the_rule.setattr(paths, "_folds_into_a_dot_segment", lambda segment: False)
        assert (await client.put(share, name, b"old")).status_code == 201
    assert (await client.put(share, name, b"new")).status_code == 200
    assert (await client.get(share, name)).content == b"new"
    assert_problem(await client.put(share, f"x/{name}", b"new"), 422, "invalid_path")
