"""HEAD on every GET route (RFC 9110 §9.3.2: a general-purpose server supports it).

FastAPI registers GET routes for GET alone, so ``HEAD /jobs/{id}/audio`` was a 405 and a
client could learn an audio's size and type only by downloading it. A HEAD that no
route takes itself (drive files and job audio have their own, which look the blob up
without reading it) runs as a GET with its body dropped: the status and headers,
Content-Length included, are the GET's.
"""

from __future__ import annotations

from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._routed(scope):
            await self.app(scope, receive, send)
            return
        # A copy: uvicorn reads the method from its own scope to frame the answer.
        as_get = {**scope, "method": "GET"}
        await self.app(as_get, receive, _without_body(send, scope, as_get))

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes HEAD itself."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)


def _without_body(send: Send, scope: Scope, as_get: Scope) -> Send:
    """``send`` with the response's body left out: one empty, final body message. The
    route the GET found is told to the middleware outside (metrics, the access log)."""
    ended = False

    async def send_head(message: Message) -> None:
        nonlocal ended
        if message["type"] == "http.response.start" and "route" in as_get:
            scope["route"] = as_get["route"]
        if message["type"] != "http.response.body":
            await send(message)
        elif not ended:
            ended = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return send_head
