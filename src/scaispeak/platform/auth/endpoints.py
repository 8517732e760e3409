"""HTTP routes for authentication and tenant/user/key administration (thin).

All but ``/auth/me`` need an API key: a browser token may not mint tokens or keys, nor
manage users and tenants (deps.ApiKeyCaller).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from scaispeak.platform.auth import service
from scaispeak.platform.auth.schemas import (
    IssuedKeyOut,
    KeyIn,
    KeyOut,
    MeOut,
    TenantIn,
    TenantOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
)
from scaispeak.platform.auth.tokens import issue_browser_token
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, platform_context

router = APIRouter(prefix="/v1", tags=["platform: auth"])


@router.get("/auth/me")
async def me(caller: Caller) -> MeOut:
    return MeOut(user_id=caller.user_id, tenant_id=caller.tenant_id, role=caller.role)


@router.post("/auth/tokens", status_code=status.HTTP_201_CREATED)
async def create_browser_token(
    request: Request, caller: ApiKeyCaller, body: TokenIn = TokenIn()
) -> TokenOut:
    # A body of only defaults may be left out: {} was needed where nothing is to be said.
    ctx = platform_context(request)
    ttl = min(body.ttl_seconds, ctx.settings.limits.token_ttl_seconds)
    token, expires = issue_browser_token(caller, ctx.signing_key, timedelta(seconds=ttl))
    return TokenOut(token=token, expires_at=expires)


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
async def create_tenant(session: Session, caller: ApiKeyCaller, body: TenantIn) -> TenantOut:
    return TenantOut.model_validate(await service.create_tenant(session, caller, body.name))


@router.get("/tenants")
async def list_tenants(session: Session, caller: ApiKeyCaller) -> list[TenantOut]:
    return [TenantOut.model_validate(t) for t in await service.list_tenants(session, caller)]


@router.post("/tenants/{tenant_id}/users", status_code=status.HTTP_201_CREATED)
async def create_user(
    session: Session, caller: ApiKeyCaller, tenant_id: str, body: UserIn
) -> UserOut:
    user = await service.create_user(session, caller, tenant_id, body.email, body.name, body.role)
    return UserOut.model_validate(user)


@router.get("/tenants/{tenant_id}/users")
async def list_users(session: Session, caller: ApiKeyCaller, tenant_id: str) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await service.list_users(session, caller, tenant_id)]


@router.delete("/users/{user_id}")
async def delete_user(
    request: Request, session: Session, caller: ApiKeyCaller, user_id: str
) -> UserOut:
    """Deletes a user: keys revoked, email and name erased, their own voices, jobs'
    audio and texts removed, their shares handed to the tenant (docs/auth.md)."""
    user = await service.delete_user(session, caller, user_id)
    for remove_what_they_made in platform_context(request).on_user_deleted:
        await remove_what_they_made(user.id, caller.user_id)
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/keys", status_code=status.HTTP_201_CREATED)
async def create_key(
    session: Session, caller: ApiKeyCaller, user_id: str, body: KeyIn = KeyIn()
) -> IssuedKeyOut:
    issued = await service.issue_api_key(session, caller, user_id, body.name)
    return IssuedKeyOut(**KeyOut.model_validate(issued.key).model_dump(), secret=issued.secret)


@router.get("/users/{user_id}/keys")
async def list_keys(session: Session, caller: ApiKeyCaller, user_id: str) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in await service.list_api_keys(session, caller, user_id)]


@router.delete("/keys/{key_id}")
async def revoke_key(session: Session, caller: ApiKeyCaller, key_id: str) -> KeyOut:
    return KeyOut.model_validate(await service.revoke_api_key(session, caller, key_id))
