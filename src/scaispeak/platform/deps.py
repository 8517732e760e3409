"""FastAPI dependencies of the host platform: the session and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.service import authenticate_api_key, authenticate_browser_token
from scaispeak.platform.auth.tokens import (
    KEY_PREFIX,
    BrowserTokenNotAllowed,
    looks_like_browser_token,
    verify_browser_token,
)
from scaispeak.platform.context import PlatformContext
from scaispeak.platform.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API key or short-lived browser token")


def platform_context(conn: HTTPConnection) -> PlatformContext:
    ctx: PlatformContext = conn.app.state.platform
    return ctx


async def db_session(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
    async with platform_context(conn).db.sessions() as session:
        yield session


async def authenticate(
    ctx: PlatformContext, session: AsyncSession, credential: str | None
) -> Principal:
    """Turn an API key or a browser token into the caller (transport-neutral)."""
    if not credential:
        raise Unauthorized("Send 'Authorization: Bearer <api key>' or a '?token=' browser token.")
    if looks_like_browser_token(credential):
        claims = verify_browser_token(credential, ctx.signing_key)
        return await authenticate_browser_token(session, claims)
    return await authenticate_api_key(session, credential)


def url_token(conn: HTTPConnection) -> str | None:
    """The ``?token=`` credential, which must be a browser token: URLs end up in proxy
    and browser logs, where a short-lived token expires and an API key would not."""
    token = conn.query_params.get("token")
    if token and token.startswith(f"{KEY_PREFIX}_"):
        raise Unauthorized(
            "API keys are not accepted in the URL; send 'Authorization: Bearer <api key>', "
            "or a browser token (POST /v1/auth/tokens) as ?token=."
        )
    if token and not looks_like_browser_token(token):
        raise Unauthorized("The ?token= is not a browser token (POST /v1/auth/tokens).")
    return token


async def current_principal(
    request: Request,
    session: Annotated[AsyncSession, Depends(db_session)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    credential = bearer.credentials if bearer else url_token(request)
    principal = await authenticate(platform_context(request), session, credential)
    request.state.principal = principal
    return principal


async def connection_principal(conn: HTTPConnection) -> Principal:
    """The caller, outside FastAPI's dependencies (a WebSocket, an upload checked before
    its body is read): ``Authorization: Bearer`` (servers), or a browser token as
    ``?token=`` (browsers cannot set headers on a WebSocket)."""
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    credential = value.strip() if scheme.lower() == "bearer" else None
    platform = platform_context(conn)
    async with platform.db.sessions() as session:
        return await authenticate(platform, session, credential or url_token(conn))


async def api_key_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    """The caller, provided it presented an API key.

    Browser tokens exist so a page can speak, stream and read what its user may read
    without holding a key; on routes that manage credentials, users, tenants, budgets,
    tenant policies, global voices, voice edits and deletion, promotion, consent decisions
    and revocations, deleting stored files or job audio, or the webhook secret, they are
    refused, so a leaked 300 s token cannot mint a lasting key, renew itself, destroy a
    voice or stored work, or change how a tenant is served.
    """
    if principal.via_browser_token:
        raise BrowserTokenNotAllowed(
            "This route needs an API key ('Authorization: Bearer ssk_...'); "
            "browser tokens do not manage credentials, users, tenants, budgets, policies "
            "or voices, nor delete stored audio."
        )
    return principal


Session = Annotated[AsyncSession, Depends(db_session)]
Caller = Annotated[Principal, Depends(current_principal)]
"""An API key or a browser token."""
ApiKeyCaller = Annotated[Principal, Depends(api_key_principal)]
"""An API key only: for routes that manage credentials, users, tenants, budgets,
tenant policies, global voices, voice edits and deletion, promotion, consent decisions
and revocations, deleting drive files and job audio, the webhook secret."""


async def tenant_slot(request: Request, caller: Caller) -> AsyncIterator[None]:
    """Hold one of the caller's tenant's slots for the request (429 over the tenant's
    concurrency or requests per minute).

    For work that is not synthesis but shares a pool every tenant needs, such as the
    voice analysis behind preflight, cloning and ``/detect``: without it one tenant
    could keep that pool full and everyone else would be told it is busy.
    """
    async with platform_context(request).limiter.slot(caller.tenant_id):
        yield


TenantSlot = Depends(tenant_slot)
"""``dependencies=[TenantSlot]``: the request counts against its tenant's limits."""
