"""The OpenAPI document says what errors really look like: RFC 9457 problem+json.

FastAPI documents every route's 422 as its own ``{"detail": [...]}`` body
(``HTTPValidationError``), which no route here sends: every error is a problem
(platform/errors.py), validation errors included, and a client generated from the
document would mis-read each one. The document is rewritten once, when first asked
for: each error response a route names carries the ``Problem`` schema, and every
operation gains a ``default`` response of it (401, 403, 404, 409, 413, 429, 5xx: the
codes are listed in docs/errors.md). The ops routes (/healthz, /readyz, /metrics)
are left as they are: a probe's 503 is its own ``{"ready": false, "checks": ...}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from scaispeak.platform.errors import PROBLEM_JSON

_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable (docs/errors.md).",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "validation_error: what is wrong with each field.",
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def document_problems(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe errors as they are sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if "ops" not in operation.get("tags", ()):  # probes answer in their own shape
                _document_errors(operation.setdefault("responses", {}))
    return schema


def _document_errors(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            response["content"] = {PROBLEM_JSON: {"schema": _REF}}
    responses.setdefault(
        "default",
        {
            "description": "An error, as RFC 9457 problem details (docs/errors.md).",
            "content": {PROBLEM_JSON: {"schema": _REF}},
        },
    )
