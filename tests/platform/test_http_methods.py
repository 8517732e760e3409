"""HTTP as a general-purpose server speaks it: HEAD on every GET route, a 405 naming
every method its path takes, and a 415 for a JSON route's body sent as something else."""

from __future__ import annotations

from tests.conftest import LiveApp

DEFAULT_VOICE_ID = "voc_piper_en-us-joe-medium"
VOICES = "/v1/modules/scaispeak/voices"
SPEAK = "/v1/modules/scaispeak/speak"


async def test_head_answers_a_get_routes_headers_without_its_body(sqlite_app: LiveApp) -> None:
    app = sqlite_app
    headers = app.auth(app.tenancy.admin_a)
    got = await app.client.get(f"{VOICES}/{DEFAULT_VOICE_ID}", headers=headers)
    head = await app.client.head(f"{VOICES}/{DEFAULT_VOICE_ID}", headers=headers)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == got.headers["content-type"]


async def test_head_is_refused_where_get_is(sqlite_app: LiveApp) -> None:
    missing = await sqlite_app.client.head(
        f"{VOICES}/voc_nobody", headers=sqlite_app.auth(sqlite_app.tenancy.admin_a)
    )
    assert missing.status_code == 404 and missing.content == b""
    unauthenticated = await sqlite_app.client.head(VOICES)
    assert unauthenticated.status_code == 401


async def test_a_405_names_every_method_of_its_path(sqlite_app: LiveApp) -> None:
    """Starlette named only the first matching route's: "Allow: GET" for a voice, which
    also takes PATCH and DELETE."""
    answer = await sqlite_app.client.put(
        f"{VOICES}/{DEFAULT_VOICE_ID}", json={}, headers=sqlite_app.auth(sqlite_app.tenancy.admin_a)
    )
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("application/problem+json")
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed == {"GET", "HEAD", "PATCH", "DELETE"}


async def test_a_json_body_sent_as_a_form_is_a_415(sqlite_app: LiveApp) -> None:
    """curl -d sends a form: the JSON in it was answered 422 "should be a valid dictionary"."""
    answer = await sqlite_app.client.post(
        SPEAK,
        content=b'{"text": "Hi there.", "voice_id": "' + DEFAULT_VOICE_ID.encode() + b'"}',
        headers={
            **sqlite_app.auth(sqlite_app.tenancy.admin_a),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "unsupported_media_type"


async def test_a_json_body_sent_as_multipart_is_a_415(sqlite_app: LiveApp) -> None:
    """curl -F to a JSON route was a 422 "body: Input should be a valid dictionary"."""
    answer = await sqlite_app.client.post(
        SPEAK,
        data={"text": "Hi there.", "voice_id": DEFAULT_VOICE_ID},
        files={"unused": ("a.txt", b"x")},
        headers=sqlite_app.auth(sqlite_app.tenancy.admin_a),
    )
    assert answer.status_code == 415, answer.text
    assert "application/json" in answer.json()["detail"]


async def test_json_sent_to_an_upload_route_is_a_415(sqlite_app: LiveApp) -> None:
    """It was a 422 "file: Field required", as if the client had forgotten the file."""
    answer = await sqlite_app.client.post(
        "/v1/modules/scaispeak/detect",
        json={"file": "x"},
        headers=sqlite_app.auth(sqlite_app.tenancy.admin_a),
    )
    assert answer.status_code == 415, answer.text
    assert "multipart/form-data" in answer.json()["detail"]


async def test_an_upload_without_its_file_is_still_a_422(sqlite_app: LiveApp) -> None:
    answer = await sqlite_app.client.post(
        "/v1/modules/scaispeak/detect",
        files={"other": ("a.txt", b"x")},
        headers=sqlite_app.auth(sqlite_app.tenancy.admin_a),
    )
    assert answer.status_code == 422, answer.text


async def test_an_empty_json_body_is_malformed_json(sqlite_app: LiveApp) -> None:
    answer = await sqlite_app.client.post(
        SPEAK,
        content=b"",
        headers={**sqlite_app.auth(sqlite_app.tenancy.admin_a), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_json"


async def test_a_body_of_only_defaults_may_be_left_out(sqlite_app: LiveApp) -> None:
    """A browser token or a new key without a body was 415 "Send the body as JSON" (a
    takedown by revoke, too: helper-88); a route that needs fields still says so."""
    auth = sqlite_app.auth(sqlite_app.tenancy.admin_a)
    token = await sqlite_app.client.post("/v1/auth/tokens", headers=auth)
    assert token.status_code == 201, token.text
    member = sqlite_app.auth(sqlite_app.tenancy.member_a)
    keys = f"/v1/users/{sqlite_app.tenancy.member_a_user}/keys"
    key = await sqlite_app.client.post(keys, headers=member)  # a member's own extra key
    assert key.status_code == 201, key.text
    superadmin = sqlite_app.auth(sqlite_app.tenancy.superadmin)
    for action in ("approve", "reject", "revoke"):
        missing = await sqlite_app.client.post(
            f"/v1/modules/scaispeak/voices/voc_nosuch/consent/{action}", headers=superadmin
        )
        assert missing.status_code == 404, missing.text  # past the body, to the voice
    needs_text = await sqlite_app.client.post(SPEAK, headers=auth)
    assert needs_text.status_code == 415


async def test_a_json_body_that_is_not_an_object_is_still_a_422(sqlite_app: LiveApp) -> None:
    answer = await sqlite_app.client.post(
        SPEAK, json=["not", "an", "object"], headers=sqlite_app.auth(sqlite_app.tenancy.admin_a)
    )
    assert answer.status_code == 422


async def test_a_head_is_counted_under_its_route(sqlite_app: LiveApp) -> None:
    """The GET it ran as found the route in a copy of the scope: metrics and the access
    log saw "unmatched"."""
    await sqlite_app.client.head(VOICES, headers=sqlite_app.auth(sqlite_app.tenancy.admin_a))
    metrics = (await sqlite_app.client.get("/metrics")).text
    assert 'method="HEAD",route="/v1/modules/scaispeak/voices",status="200"' in metrics


async def test_a_websocket_route_asked_over_plain_http_is_a_426(sqlite_app: LiveApp) -> None:
    """It was a 404 "Not Found", as if the route did not exist."""
    for path in ("/v1/modules/scaispeak/stream/speak", "/v1/modules/scaispeak/voices/clone/live"):
        answer = await sqlite_app.client.get(
            path, headers=sqlite_app.auth(sqlite_app.tenancy.member_a)
        )
        assert answer.status_code == 426, (path, answer.text)
        assert answer.json()["code"] == "upgrade_required"
        assert answer.headers["upgrade"] == "websocket"
    missing = await sqlite_app.client.get("/v1/modules/scaispeak/stream/nothing")
    assert missing.status_code == 404


async def test_a_trailing_slash_is_an_unknown_path_not_a_redirect(sqlite_app: LiveApp) -> None:
    """A 307 to http://<the client's Host header>/v1/tenants, with no body (helper-86)."""
    answer = await sqlite_app.client.get(
        "/v1/tenants/",
        headers={**sqlite_app.auth(sqlite_app.tenancy.admin_a), "Host": "evil.example"},
    )
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert "location" not in answer.headers
