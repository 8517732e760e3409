"""JSON bodies are read as typed: a number is not a yes/no, a yes/no is not a number.

Pydantic's lax mode took `"overwrite": 1` as true, `"ttl_seconds": false` as 0 and
`"valid_from": 0` as 1970, none of which the OpenAPI document allows: a client's mistake
passed as something it never meant.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ValidationError

from scaispeak.speak.streaming.protocol import ClientMessage
from scaispeak.speak.voices.live_intake import StartMessage
from tests.conftest import LiveApp

# For each JSON type, a value of another type that lax validation would convert.
WRONG = {bool: 1, int: False, float: True, datetime: 0, AwareDatetime: 0}


def _plain(annotation: Any) -> list[Any]:
    """The types a field takes, with Optional and unions opened up."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _plain(arg)]
    if get_origin(annotation) is list:
        return _plain(get_args(annotation)[0])
    return [get_origin(annotation) or annotation]


def _models_within(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        for kind in _plain(field.annotation):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                _models_within(kind, seen)


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, with included routers opened (FastAPI nests them since 0.16x)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def request_models(app_routes: list[Any]) -> set[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    for route in api_routes(app_routes):
        if route.body_field is not None:
            for kind in _plain(route.body_field.field_info.annotation):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    _models_within(kind, seen)
    for message in [StartMessage, *get_args(get_args(ClientMessage)[0])]:
        _models_within(message, seen)
    return seen


def lax_fields(models: set[type[BaseModel]]) -> list[tuple[type[BaseModel], str, Any]]:
    """Every (model, field, wrong value) whose type lax mode would convert into."""
    cases = []
    for model in models:
        for name, field in model.model_fields.items():
            for kind in _plain(field.annotation):
                if kind in WRONG:
                    cases.append((model, name, WRONG[kind]))
    return cases


async def test_no_request_field_converts_a_json_value_of_another_type(
    sqlite_app: LiveApp,
) -> None:
    models = request_models(sqlite_app.app.routes)
    names = {m.__name__ for m in models}
    assert {"SpeakRequest", "SaveToIn", "TokenIn", "LicenceIn", "StartMessage"} <= names
    cases = lax_fields(models)
    assert len(cases) >= 8, cases  # the walk found the typed fields it is here to check
    converted = []
    for model, field, wrong in cases:
        try:
            model.model_validate({field: wrong})
        except ValidationError as refused:
            locations = [e["loc"][:1] for e in refused.errors()]
            if (field,) in locations:
                continue
        converted.append(f"{model.__module__}.{model.__name__}.{field} <- {wrong!r}")
    assert not converted, "\n".join(converted)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "PUT",
            "/v1/modules/scaispeak/policy",
            {"allowed_backends": ["selfhosted"], "default_backend": "selfhosted", "failover": 0},
        ),
        ("POST", "/v1/audio/speech", {"model": "m", "input": "Hi.", "voice": "x", "speed": True}),
    ],
)
async def test_a_mistyped_value_is_a_422_problem(
    sqlite_app: LiveApp, method: str, path: str, body: dict[str, Any]
) -> None:
    answer = await sqlite_app.client.request(
        method, path, json=body, headers=sqlite_app.auth(sqlite_app.tenancy.admin_a)
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
