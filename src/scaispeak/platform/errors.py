"""The service's error tree and its single mapping to RFC 9457 problem+json.

Domain code raises these (no HTTP imports there); ``install_problem_handlers`` turns
each into ``application/problem+json`` with a stable ``code`` that clients may switch
on. Codes are documented in docs/errors.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from scaispeak.platform.db import is_transient

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger(__name__)


def innermost_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of ``exc``'s ``raise ... from`` chain: the one that
    names what failed (a refused connection, a missing bucket) under library wrappers."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


class ServiceError(Exception):
    """Base of every error the API reports on purpose."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"
    retry_after: int | None = None
    """Seconds to wait before trying again, where the error passes (a class's default;
    ``retry_after=`` or ``come_back_in`` set one error's): the ``Retry-After`` header,
    and the problem's (or a stream error event's) ``retry_after`` member."""

    def __init__(
        self, detail: str | None = None, *, retry_after: int | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra
        self.headers: dict[str, str] = {}
        self.come_back_in(retry_after if retry_after is not None else self.retry_after)

    def come_back_in(self, seconds: int | None) -> None:
        """Tell the caller when to try again (nothing for None)."""
        if seconds is None:
            return
        self.retry_after = seconds
        self.headers["Retry-After"] = str(seconds)
        self.extra["retry_after"] = seconds


class BadRequest(ServiceError):
    """The request is well-formed JSON but its values make no sense."""

    status, code, title = 400, "bad_request", "Bad request"


class InvalidJson(ServiceError):
    """The body is not valid JSON."""

    status, code, title = 400, "malformed_json", "Malformed JSON body"


class ValidationFailed(ServiceError):
    """The body does not match the schema (missing or mistyped fields)."""

    status, code, title = 422, "validation_error", "Request validation failed"


class UnsupportedMediaType(ServiceError):
    """A body in a content type the route does not read."""

    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unauthorized(ServiceError):
    """No credentials, or credentials that are invalid, expired or revoked."""

    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["WWW-Authenticate"] = "Bearer"


class Forbidden(ServiceError):
    """Authenticated, but the role does not allow this action."""

    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(ServiceError):
    """The object does not exist or belongs to another tenant (never revealed)."""

    status, code, title = 404, "not_found", "Not found"


class Conflict(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class Unavailable(ServiceError):
    status, code, title = 503, "unavailable", "Service unavailable"


class DatabaseUnavailable(Unavailable):
    """The database dropped or refused the connection, failed over, or was too busy
    (``db.is_transient``): the request may succeed when sent again."""

    code, title = "database_unavailable", "Database unavailable"
    retry_after = 5

    def __init__(self) -> None:
        super().__init__("The database did not answer; send the request again.")


class ServerStopping(Unavailable):
    """The process stopped before it could answer (a deploy whose grace ran out)."""

    code, title = "server_stopping", "Server stopping"
    retry_after = 1

    def __init__(self) -> None:
        super().__init__("This server stopped before it could answer; send the request again.")


def problem_body(status: int, code: str, title: str, detail: str) -> dict[str, Any]:
    """The RFC 9457 members every problem carries, with the stable ``code``."""
    return {
        "type": f"https://scaispeak.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, code, title, detail)
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


@dataclass(frozen=True)
class Problem:
    """An error as problem+json describes it, before it is rendered."""

    status: int
    code: str
    title: str
    detail: str
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self, instance: str | None, **more: Any) -> JSONResponse:
        return problem_response(
            self.status,
            self.code,
            self.title,
            self.detail,
            instance,
            self.headers,
            **self.extra,
            **more,
        )


def problem_of(exc: Exception) -> Problem | None:
    """The problem an error raised on purpose (or by routing and validation) describes;
    None for anything else, which is a bug and answers 500."""
    if isinstance(exc, ServiceError):
        return Problem(exc.status, exc.code, exc.title, exc.detail, exc.headers, exc.extra)
    if isinstance(exc, RequestValidationError):
        return _validation_problem(exc)
    if isinstance(exc, StarletteHTTPException) and _unparsed_body(exc):
        return problem_of(InvalidJson("The request body is not valid JSON."))
    if isinstance(exc, StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = str(exc.detail)
        return Problem(exc.status_code, code, detail, detail, getattr(exc, "headers", None))
    return None


def _unparsed_body(exc: StarletteHTTPException) -> bool:
    """FastAPI's answer to a JSON body its parser raised on other than a syntax error
    (bytes that are not UTF-8, nesting past the recursion limit, an integer of
    thousands of digits): the same mistake as malformed JSON, under the same code."""
    return exc.status_code == 400 and exc.detail == "There was an error parsing the body"


def _validation_problem(exc: RequestValidationError) -> Problem:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        err: ServiceError = InvalidJson("The request body is not valid JSON.")
    else:
        err = ValidationFailed(_describe_validation(errors))
    extra = {"errors": [_jsonable_error(e) for e in errors]}
    return Problem(err.status, err.code, err.title, err.detail, extra=extra)


def answer_to(exc: Exception, path: str) -> Problem:
    """The problem ``exc`` describes, whatever it is: a database refusing a NUL is the
    client's 400 (PostgreSQL); anything else unknown is a bug, logged, and a 500."""
    problem = problem_of(exc)
    if problem is None and _refused_nul(exc):
        problem = problem_of(BadRequest(NUL_REFUSED))
    if problem is None and is_transient(exc):
        # An outage, not a bug: a 503 clients retry, logged without the statement's text
        # (it may hold a caller's words).
        _log.warning("database unavailable on %s: %s", path, type(exc).__name__)
        problem = problem_of(DatabaseUnavailable())
    if problem is None:
        _log.error("unhandled error on %s", path, exc_info=exc)
        problem = Problem(500, "internal_error", "Internal error", "Unexpected error.")
    return problem


def problem_for_request(request: Request, exc: Exception) -> Problem:
    """The problem ``exc`` raised while serving ``request`` answers as: ``answer_to``,
    judged with what the request shows (the body's media type, a WebSocket route asked
    over HTTP, the methods a 405's ``Allow`` lists). A route class that wraps its errors
    (the OpenAI routes') calls this too, or its callers saw 422 where others see 415."""
    exc = _in_the_media_type_the_route_reads(request, exc)
    if _a_websocket_route_asked_over_http(request, exc):
        exc = UpgradeRequired(
            "This is a WebSocket route: connect with a WebSocket client "
            "(Upgrade: websocket), not a plain HTTP request."
        )
    problem = answer_to(exc, request.url.path)
    if problem.status == 405:
        allowed = ", ".join(sorted(_methods_of_path(request)))
        problem = replace(problem, headers={**(problem.headers or {}), "Allow": allowed})
    return problem


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through problem+json."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return problem_for_request(request, exc).response(request.url.path)

    # The database's errors by name: Starlette's handler for Exception answers, then
    # raises again (an ERROR traceback, and no request id, metric or access line).
    known = (
        ServiceError,
        RequestValidationError,
        StarletteHTTPException,
        DBAPIError,
        SQLAlchemyTimeoutError,  # no pooled connection came free: db.is_transient
    )
    for raised in (*known, Exception):
        app.add_exception_handler(raised, answer)


def _in_the_media_type_the_route_reads(request: Request, exc: Exception) -> Exception:
    """A 415 where the body was sent as the wrong kind: FastAPI does not parse it and
    answers 422 that the object "should be a valid dictionary" (a form, curl -d's
    default, or multipart sent to a JSON route) or that the file is "Field required"
    (JSON sent to an upload). A JSON route's empty body is malformed JSON."""
    if not isinstance(exc, RequestValidationError):
        return exc
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    sent_json = media == "application/json" or media.endswith("+json")
    if _reads_a_form(request):
        if media.startswith("multipart/") or media == "application/x-www-form-urlencoded":
            return exc
        return UnsupportedMediaType("Send the body as multipart/form-data (curl -F).")
    whole_body = [e for e in exc.errors() if tuple(e.get("loc", ())) == ("body",)]
    if not whole_body:
        return exc
    if not sent_json:
        return UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    if any(e.get("type") == "missing" for e in whole_body):
        return InvalidJson("The request body is empty: send a JSON object ({} for none).")
    return exc


def _reads_a_form(request: Request) -> bool:
    """Whether the matched route takes form fields or files (``File`` is a ``Form``)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return False
    return any(isinstance(p.field_info, params.Form) for p in route.dependant.body_params)


class UpgradeRequired(ServiceError):
    status, code, title = 426, "upgrade_required", "Upgrade required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers |= {"Upgrade": "websocket", "Connection": "Upgrade"}


def _a_websocket_route_asked_over_http(request: Request, exc: Exception) -> bool:
    """A plain GET of a WebSocket route was a 404 "Not Found": it exists, and the
    client forgot the upgrade (RFC 9110 §15.5.22)."""
    if not isinstance(exc, StarletteHTTPException) or exc.status_code != 404:
        return False
    scope = {**request.scope, "type": "websocket"}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _methods_of_path(request: Request) -> set[str]:
    """Every method the request's path takes: Starlette's 405 names only those of the
    first route that matched it, and FastAPI makes a route per method. Asked of each
    route as a router would ask it (included routers answer for their own routes)."""
    routes = request.app.router.routes
    methods = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    }
    return methods | ({"HEAD"} if "GET" in methods else set())  # platform/head_requests.py


# 22021: a NUL in text; 22P05: a \u0000 in JSON cast to jsonb (a tag search).
_NUL_REFUSALS = {"22021", "22P05"}
NUL_REFUSED = "Text may not contain NUL (\\u0000) characters, in the URL or the body."


def _refused_nul(exc: Exception) -> bool:
    """PostgreSQL's refusal of a NUL character in text: the client's input (an id in
    the path, a name in the body), so a 400; SQLite stores it. Recognised by SQLSTATE,
    which SQLAlchemy's database errors carry on their ``orig``."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _NUL_REFUSALS


def _describe_validation(errors: Any) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def _jsonable_error(e: Any) -> dict[str, Any]:
    return {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
