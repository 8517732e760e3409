"""The OpenAPI document describes errors as they are sent: problem+json, every time."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveApp

SPEAK = "/v1/modules/scaispeak/speak"
PROBLEM = "application/problem+json"


def operations(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


async def test_every_error_response_is_documented_as_a_problem(sqlite_app: LiveApp) -> None:
    """FastAPI documented each 422 as {"detail": [...]}, a body no route sends."""
    schema = (await sqlite_app.client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    problem = schema["components"]["schemas"]["Problem"]
    for name, operation in operations(schema):
        if "ops" in operation.get("tags", ()):
            assert "default" not in operation["responses"], name  # /readyz's 503 is its own
            continue
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        for status, response in [*errors.items(), ("default", operation["responses"]["default"])]:
            assert list(response["content"]) == [PROBLEM], (name, status)
    # A real refusal carries every field the schema requires.
    refused = await sqlite_app.client.post(
        SPEAK, json={"voice_id": "x"}, headers=sqlite_app.auth(sqlite_app.tenancy.member_a)
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert set(problem["required"]) <= set(refused.json())


async def test_speak_documents_each_answer_it_gives(sqlite_app: LiveApp) -> None:
    schema = (await sqlite_app.client.get("/openapi.json")).json()
    responses = schema["paths"][SPEAK]["post"]["responses"]
    assert {"audio/pcm", "audio/basic", "application/json"} <= set(responses["200"]["content"])
    saved = responses["201"]["content"]["application/json"]["schema"]["$ref"]
    job = responses["202"]["content"]["application/json"]["schema"]["$ref"]
    assert saved.endswith("/SavedFileOut") and job.endswith("/JobOut")


async def test_the_openai_route_documents_every_type_it_answers(sqlite_app: LiveApp) -> None:
    """It listed wav, mpeg, ogg and flac; it also answers pcm, mulaw and SSE."""
    schema = (await sqlite_app.client.get("/openapi.json")).json()
    content = schema["paths"]["/v1/audio/speech"]["post"]["responses"]["200"]["content"]
    assert {"audio/pcm", "audio/basic", "text/event-stream", "audio/mpeg"} <= set(content)


async def test_a_drive_upload_documents_its_raw_body(sqlite_app: LiveApp) -> None:
    """The document had no request body: a generated client sent the file nowhere."""
    schema = (await sqlite_app.client.get("/openapi.json")).json()
    upload = schema["paths"]["/v1/drive/shares/{share_id}/files/{path}"]["put"]
    assert upload["requestBody"]["required"] is True
    [media] = upload["requestBody"]["content"].values()
    assert media["schema"] == {"type": "string", "format": "binary"}
