"""Uploads are authenticated before their body is read.

FastAPI reads a route's form, spooling its files to disk, before it runs any
dependency, authentication included: anyone, with no key at all, could make the server
take up to ``MULTIPART_MAX_BYTES`` (128 MiB) per connection before answering 401
(helper-90). On the routes that take uploads this middleware checks the caller first, and
refuses without reading a byte of the body; the route authenticates again as usual,
one more key lookup on requests that carry megabytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from scaispeak.platform.body_limits import UploadRoute, takes_uploads
from scaispeak.platform.deps import connection_principal
from scaispeak.platform.errors import answer_to


class AuthenticateUploads:
    def __init__(self, app: ASGIApp, upload_routes: Sequence[UploadRoute]) -> None:
        self.app = app
        self.upload_routes = upload_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and takes_uploads(
            scope["method"], scope["path"], self.upload_routes
        ):
            try:
                await connection_principal(HTTPConnection(scope))
            except Exception as refused:  # the 401, or a database outage's 503
                path = scope["path"]
                await answer_to(refused, path).response(path)(scope, receive, send)
                return
        await self.app(scope, receive, send)
