"""The answer to an error no handler knows, given inside the other middleware.

Starlette answers an unknown exception in its outermost layer, outside every
middleware: that 500 carried no X-Request-Id, was neither logged as a request nor
counted, and uvicorn then dropped the keep-alive connection (helper-86). Caught here,
it is an answer like any other.

A stop whose grace runs out cancels the requests still open; uvicorn then answered a
plain-text 500. Those not yet answering get ``503 server_stopping`` to retry
elsewhere, once their own cleanup (a hold given back) has run (helper-99).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scaispeak.platform.errors import ServerStopping, answer_to

_GRACE_CUT = "graceful shutdown"
"""In the message of uvicorn's cancel of a request its stop no longer waits for."""


class AnswerUnhandled:
    """Plain ASGI (no memory stream per request); innermost of the middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noting_the_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noting_the_start)
        except asyncio.CancelledError as cut:
            if started or _GRACE_CUT not in str(cut):
                raise
            await _answer(ServerStopping(), scope, receive, send)
        except Exception as exc:
            if started:
                raise  # part of the answer is sent: nothing to do but cut it short
            await _answer(exc, scope, receive, send)


async def _answer(exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
    path = scope["path"]
    await answer_to(exc, path).response(path)(scope, receive, send)
