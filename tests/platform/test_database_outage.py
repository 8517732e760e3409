"""A database outage under a request is a 503 the client may retry, not a bug's 500."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from scaispeak.platform.errors import install_problem_handlers


def _app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/work")
    async def work() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    # An error answered by the catch-all handler is raised again after its answer (an
    # ERROR traceback, no request id): raising here catches that.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/work")


@pytest.mark.parametrize(
    "error",
    [
        # asyncpg's "connection is closed" after pg_terminate_backend, as SQLAlchemy wraps it
        DBAPIError(
            "SELECT tenants.id", {}, Exception("connection is closed"), connection_invalidated=True
        ),
        OperationalError("SELECT", {}, ConnectionRefusedError("refused")),
        SQLAlchemyTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=["invalidated", "refused", "pool-timeout"],
)
async def test_a_dropped_connection_is_a_503_with_retry_after(error: Exception) -> None:
    answer = await _get(_app_raising(error))
    assert answer.status_code == 503
    assert answer.json()["code"] == "database_unavailable"
    assert answer.headers["retry-after"] == "5"
    assert "SELECT" not in answer.text


async def test_a_database_error_that_is_a_bug_is_still_a_500() -> None:
    error = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: voices"))
    answer = await _get(_app_raising(error))
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_error"
