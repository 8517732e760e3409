"""Tenant, user and key administration, and turning a credential into a Principal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import ApiKey, Role, Tenant, User
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.tokens import (
    BrowserTokenClaims,
    mint_api_key,
    parse_key_prefix,
    secret_matches,
)
from scaispeak.platform.db import utcnow
from scaispeak.platform.errors import Conflict, Forbidden, NotFound, Unauthorized


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


async def authenticate_api_key(session: AsyncSession, secret: str) -> Principal:
    prefix = parse_key_prefix(secret)
    if prefix is None:
        raise Unauthorized("Neither an API key (ssk_...) nor a browser token.")
    row = await _key_and_user(session, ApiKey.prefix == prefix)
    if row is None or not secret_matches(secret, row.ApiKey.secret_hash):
        raise Unauthorized("Invalid API key.")
    if row.ApiKey.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    return _principal_of(row.ApiKey, row.User, via_browser_token=False)


async def authenticate_browser_token(
    session: AsyncSession, claims: BrowserTokenClaims
) -> Principal:
    """The caller a verified browser token speaks for, while the key that issued it
    stands: the role is read now, not trusted from the token."""
    row = await _key_and_user(session, ApiKey.id == claims.key_id)
    if row is None or row.User.id != claims.user_id:
        raise Unauthorized("The token is invalid.")
    if row.ApiKey.revoked_at is not None:
        raise Unauthorized("The API key that issued this token has been revoked.")
    return _principal_of(row.ApiKey, row.User, via_browser_token=True)


async def _key_and_user(
    session: AsyncSession, which: ColumnElement[bool]
) -> Row[ApiKey, User] | None:
    # A deleted user's key is refused even if one was minted as the deletion ran.
    found = await session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.user_id)
        .where(which, User.deleted_at.is_(None))
    )
    return found.one_or_none()


def _principal_of(key: ApiKey, user: User, *, via_browser_token: bool) -> Principal:
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        key_id=key.id,
        via_browser_token=via_browser_token,
    )


async def create_tenant(session: AsyncSession, actor: Principal, name: str) -> Tenant:
    if not actor.is_superadmin:
        raise Forbidden("Only a superadmin may create tenants.")
    tenant = Tenant(name=name)
    session.add(tenant)
    await session.commit()
    return tenant


async def list_tenants(session: AsyncSession, actor: Principal) -> list[Tenant]:
    stmt = select(Tenant).order_by(Tenant.created_at)
    if not actor.is_superadmin:
        stmt = stmt.where(Tenant.id == actor.tenant_id)
    return list((await session.execute(stmt)).scalars())


async def get_tenant_for_admin(session: AsyncSession, actor: Principal, tenant_id: str) -> Tenant:
    """A tenant the actor administers; others are 404 (not 403) so ids don't leak."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or not (actor.is_superadmin or actor.tenant_id == tenant_id):
        raise NotFound(f"No tenant with id {tenant_id!r}.")
    if not actor.is_admin_of(tenant_id):
        raise Forbidden("Only a tenant admin may manage this tenant.")
    return tenant


async def create_user(
    session: AsyncSession, actor: Principal, tenant_id: str, email: str, name: str, role: Role
) -> User:
    await get_tenant_for_admin(session, actor, tenant_id)
    _forbid_outranking(actor, role, "create a user with that role")
    user = User(tenant_id=tenant_id, email=email.lower(), name=name, role=role)
    session.add(user)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"A user with email {email!r} already exists in this tenant.") from exc
    return user


async def list_users(session: AsyncSession, actor: Principal, tenant_id: str) -> list[User]:
    await get_tenant_for_admin(session, actor, tenant_id)
    stmt = (
        select(User)
        .where(User.tenant_id == tenant_id, User.deleted_at.is_(None))
        .order_by(User.created_at)
    )
    return list((await session.execute(stmt)).scalars())


async def delete_user(session: AsyncSession, actor: Principal, user_id: str) -> User:
    """Delete a user, by their tenant's admin or a superadmin: every key of theirs is
    revoked (their browser tokens and streams end with it) and their email and name are
    erased; the row stays under its id, which the ledger, jobs and audit trail name.
    What they made goes in the hooks the app runs after this (app.py). Deleting a
    deleted user again runs those again: a stop part-way through is finished so."""
    user = await _user_for_key_admin(session, actor, user_id, deleted_too=True)
    if user.id == actor.user_id:
        raise Conflict("A user cannot delete themselves: another admin can.")
    now = utcnow()
    await session.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if user.deleted_at is None:
        # The address is free again for a new user; ".invalid" is never a real domain.
        user.email, user.name, user.deleted_at = f"{user.id}@deleted.invalid", "", now
    await session.commit()
    return user


async def _user_for_key_admin(
    session: AsyncSession, actor: Principal, user_id: str, *, deleted_too: bool = False
) -> User:
    user = await session.get(User, user_id)
    visible = user is not None and (actor.is_superadmin or user.tenant_id == actor.tenant_id)
    if user is None or not visible or (user.deleted_at is not None and not deleted_too):
        raise NotFound(f"No user with id {user_id!r}.")
    if user.id != actor.user_id and not actor.is_admin_of(user.tenant_id):
        # A colleague's id is as unknown to a member as any other: 403 would confirm it.
        raise NotFound(f"No user with id {user_id!r}.")
    # A key acts with its user's role: minting one for (or revoking one of) a higher
    # role would hand the actor powers they do not have.
    _forbid_outranking(actor, user.role, "manage the keys of this user")
    return user


def _forbid_outranking(actor: Principal, role: Role, action: str) -> None:
    if role.outranks(actor.role):
        raise Forbidden(f"A {actor.role.value} may not {action} ({role.value} outranks it).")


class UserHasALiveKey(Conflict):
    code = "user_has_a_live_key"


async def issue_api_key(
    session: AsyncSession, actor: Principal, user_id: str, name: str
) -> IssuedKey:
    """A new key for ``user_id``, by that user or by an admin over them.

    An admin issues a user's first key, or a replacement once every key of theirs is
    revoked, never one alongside a key the user holds: a key acts as its user, so a
    second key an admin kept would let them act as the user unseen (read their private
    voices, give the owner's half of a two-party promotion). Taking over a user now
    takes revoking their keys, which they notice.
    """
    user = await _user_for_key_admin(session, actor, user_id)
    if user.id != actor.user_id and await _has_a_live_key(session, user.id):
        raise UserHasALiveKey(
            "This user holds a live key: only they may mint another. To replace a lost "
            "key, revoke theirs first."
        )
    return await _store_new_key(session, user, name)


async def _has_a_live_key(session: AsyncSession, user_id: str) -> bool:
    live = select(ApiKey.id).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    return (await session.execute(live.limit(1))).first() is not None


async def _store_new_key(session: AsyncSession, user: User, name: str) -> IssuedKey:
    minted = mint_api_key()
    key = ApiKey(
        tenant_id=user.tenant_id,
        user_id=user.id,
        name=name,
        prefix=minted.prefix,
        secret_hash=minted.hash,
    )
    session.add(key)
    await session.commit()
    return IssuedKey(key=key, secret=minted.secret)


async def list_api_keys(session: AsyncSession, actor: Principal, user_id: str) -> list[ApiKey]:
    await _user_for_key_admin(session, actor, user_id)
    stmt = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
    return list((await session.execute(stmt)).scalars())


async def revoke_api_key(session: AsyncSession, actor: Principal, key_id: str) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    unknown = NotFound(f"No API key with id {key_id!r}.")
    if key is None or not (actor.is_superadmin or key.tenant_id == actor.tenant_id):
        raise unknown
    try:
        await _user_for_key_admin(session, actor, key.user_id)
    except NotFound:
        # A colleague's key is as unknown as any other: "No user with id 'usr_…'"
        # confirmed the key and named its owner (helper-86).
        raise unknown from None
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.commit()
    return key


async def issue_key_by_operator(
    session: AsyncSession, email: str, name: str, tenant: str | None = None
) -> IssuedKey:
    """A new key for an existing user, asked for by whoever runs the server (the CLI,
    with the database at hand): how a lost bootstrap key is replaced. No API caller
    reaches this; over HTTP a key is issued by its user or a tenant admin.

    An address is unique within a tenant only: ``tenant`` (an id or a name) picks the
    user when the address is in several tenants.
    """
    stmt = select(User).where(User.email == email.lower(), User.deleted_at.is_(None))
    if tenant is not None:
        stmt = stmt.join(Tenant, Tenant.id == User.tenant_id).where(
            or_(Tenant.id == tenant, Tenant.name == tenant)
        )
    users = list((await session.execute(stmt)).scalars())
    if not users:
        raise NotFound(f"No user with email {email!r}" + (f" in {tenant!r}." if tenant else "."))
    if len(users) > 1:
        ids = sorted(u.tenant_id for u in users)
        if tenant is not None:  # tenant names need not be unique: only an id settles it
            raise Conflict(
                f"{len(users)} tenants named {tenant!r} have {email!r}; name one by id: {ids}."
            )
        raise Conflict(
            f"{len(users)} tenants have a user with email {email!r}; name the tenant "
            f"(--tenant, its id or name): {ids}."
        )
    return await _store_new_key(session, users[0], name)


@dataclass(frozen=True)
class Bootstrap:
    tenant: Tenant
    user: User
    key: IssuedKey


FIRST_START_LOCK_KEY = 0x5CA15BEA_0000_0002
"""The advisory lock (a PostgreSQL bigint) first-start bootstraps take turns under."""


async def _one_first_start_at_a_time(session: AsyncSession) -> None:
    """Held until the transaction ends. SQLite needs none: one process serves it."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": FIRST_START_LOCK_KEY}
        )


async def bootstrap(
    session: AsyncSession, tenant_name: str, email: str, *, only_if_empty: bool
) -> Bootstrap | None:
    """Create a tenant, a superadmin in it and an API key (first start, or on demand).

    ``only_if_empty`` is every replica's first start: they may start together on one
    new database, so the check and the creation run under a lock (PostgreSQL), or two
    "default" tenants with two first keys would be made.
    """
    if only_if_empty:
        await _one_first_start_at_a_time(session)
        if (await session.execute(select(User.id).limit(1))).first():
            await session.commit()  # releases the lock
            return None
    # Superadmins act on every tenant: one address is one operator, whatever tenant
    # the first bootstrap put them in (and the CLI finds them by address alone).
    taken = await session.execute(select(User.id).where(User.email == email.lower()).limit(1))
    if taken.first():
        raise Conflict(f"A user with email {email!r} already exists.")
    tenant = Tenant(name=tenant_name)
    session.add(tenant)
    await session.flush()
    user = User(
        tenant_id=tenant.id, email=email.lower(), name="Administrator", role=Role.superadmin
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"A user with email {email!r} already exists.") from exc
    issued = await _store_new_key(session, user, "bootstrap")
    return Bootstrap(tenant=tenant, user=user, key=issued)
