"""Tenant backend policy: which backends a tenant may use, its default, failover."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import put_row
from scaispeak.platform.errors import Forbidden
from scaispeak.speak.backends.catalog import BackendCatalog
from scaispeak.speak.backends.models import TenantPolicy
from scaispeak.speak.errors import InvalidPolicy


@dataclass(frozen=True)
class Policy:
    allowed: tuple[str, ...]
    default: str
    failover: bool
    customised: bool


def default_policy(catalog: BackendCatalog, default_backend: str) -> Policy:
    names = tuple(catalog.names())
    default = default_backend if default_backend in names else names[0]
    return Policy(allowed=names, default=default, failover=True, customised=False)


async def load_policy(
    session: AsyncSession, tenant_id: str, catalog: BackendCatalog, default_backend: str
) -> Policy:
    row = await session.get(TenantPolicy, tenant_id)
    if row is None:
        return default_policy(catalog, default_backend)
    # A backend the deployment no longer offers silently drops out of the policy.
    allowed = tuple(b for b in row.allowed_backends if b in catalog.names())
    default = row.default_backend if row.default_backend in allowed else (allowed or ("",))[0]
    return Policy(allowed=allowed, default=default, failover=row.failover, customised=True)


async def save_policy(
    session: AsyncSession,
    actor: Principal,
    catalog: BackendCatalog,
    allowed: list[str],
    default: str,
    failover: bool,
) -> Policy:
    if not actor.is_admin_of(actor.tenant_id):
        raise Forbidden("Only a tenant admin may change the backend policy.")
    unknown = sorted(set(allowed) - set(catalog.names()))
    if unknown or not allowed:
        raise InvalidPolicy(
            f"Allowed backends must be a non-empty subset of {catalog.names()}; unknown: {unknown}."
        )
    if default not in allowed:
        raise InvalidPolicy(f"The default backend {default!r} must be one of the allowed ones.")

    async def change(row: TenantPolicy) -> None:
        row.allowed_backends = list(dict.fromkeys(allowed))
        row.default_backend = default
        row.failover = failover

    row = await put_row(
        session,
        lambda: session.get(TenantPolicy, actor.tenant_id),
        lambda: TenantPolicy(tenant_id=actor.tenant_id),
        change,
    )
    return Policy(tuple(row.allowed_backends), default, failover, customised=True)
