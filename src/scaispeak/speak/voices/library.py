"""The voice library: what a caller may speak with, ranked, filtered and paged.

Ranking (docs/voices.md): voices the caller spoke with recently first (most recent
first), then the caller's own voices, their tenant's, and global ones; within a scope
by popularity (usage count), then name, then id. The cursor is opaque and encodes the
last row's sort key, so pages are stable.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Select, and_, case, cast, exists, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scaispeak.platform import cursors
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.platform.scoping import tenant_filter
from scaispeak.speak.errors import UnknownVoice
from scaispeak.speak.voices.models import (
    Voice,
    VoiceScope,
    VoiceStatus,
    VoiceTenantUse,
    VoiceUse,
    aware,
)

# OpenAI's stock voice names, mapped onto ours so unmodified OpenAI clients work.
OPENAI_VOICE_ALIASES = {
    "alloy": "voc_kokoro_jf-alpha",
    "ash": "voc_piper_en-us-joe-medium",
    "ballad": "voc_kokoro_jm-kumo",
    "cedar": "voc_piper_en-us-joe-medium",
    "coral": "voc_kokoro_jf-nezumi",
    "echo": "voc_piper_en-us-joe-medium",
    "fable": "voc_kokoro_jf-gongitsune",
    "marin": "voc_kokoro_jf-tebukuro",
    "onyx": "voc_piper_en-us-joe-medium",
    "nova": "voc_kokoro_jf-tebukuro",
    "sage": "voc_kokoro_jf-alpha",
    "shimmer": "voc_kokoro_jf-nezumi",
    "verse": "voc_kokoro_jm-kumo",
}


@dataclass(frozen=True)
class VoiceFilters:
    scope: VoiceScope | None = None
    language: str | None = None
    tag: str | None = None
    status: VoiceStatus | None = None
    q: str | None = None


@dataclass(frozen=True)
class ListedVoice:
    voice: Voice
    tenant_uses: int
    """How often the caller's tenant has spoken with it (its popularity there)."""


@dataclass(frozen=True)
class VoicePage:
    items: list[ListedVoice]
    next_cursor: str | None


def global_voice_id(engine: str, key: str) -> str:
    """Stable id of an engine's stock voice, e.g. ``voc_piper_en-us-joe-medium``."""
    slug = "".join(c if c.isalnum() else "-" for c in key.lower())
    return f"voc_{engine}_{slug}"


def visible_voices(principal: Principal) -> Any:
    """Voices the caller may use: global ones, their tenant's, and their own."""
    return and_(
        tenant_filter(Voice, principal, shared=True),
        or_(Voice.scope != VoiceScope.user, Voice.owner_user_id == principal.user_id),
    )


_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])
"""A SELECT of voices (alone, or with their last use and popularity); filters keep its shape."""

_SCOPE_RANK = case(
    (Voice.scope == VoiceScope.user, 0), (Voice.scope == VoiceScope.tenant, 1), else_=2
)
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""Stands in for "never used" so the recency sort key has no NULLs (portable ordering)."""
_LAST_USED = func.coalesce(VoiceUse.used_at, literal(NEVER, DateTime(timezone=True)))
_TENANT_USES = func.coalesce(VoiceTenantUse.uses, 0)
"""Popularity in the caller's tenant (another tenant's use counts nowhere here)."""


async def list_voices(
    session: AsyncSession,
    principal: Principal,
    filters: VoiceFilters,
    *,
    limit: int,
    cursor: str | None = None,
) -> VoicePage:
    used = and_(VoiceUse.voice_id == Voice.id, VoiceUse.user_id == principal.user_id)
    popular = and_(
        VoiceTenantUse.voice_id == Voice.id, VoiceTenantUse.tenant_id == principal.tenant_id
    )
    base = (
        select(Voice, _LAST_USED, _TENANT_USES)
        .outerjoin(VoiceUse, used)
        .outerjoin(VoiceTenantUse, popular)
        .where(visible_voices(principal))
    )
    stmt = _filtered(base, filters, session.get_bind().dialect.name)
    if cursor:
        stmt = stmt.where(_after(_decode_cursor(cursor)))
    stmt = stmt.order_by(_LAST_USED.desc(), _SCOPE_RANK, _TENANT_USES.desc(), Voice.name, Voice.id)
    rows: list[tuple[Voice, datetime, int]] = [
        (row[0], row[1], int(row[2])) for row in await session.execute(stmt.limit(limit + 1))
    ]
    next_cursor = _encode_cursor(*rows[limit - 1]) if len(rows) > limit else None
    listed = [ListedVoice(voice, uses) for voice, _, uses in rows[:limit]]
    return VoicePage(items=listed, next_cursor=next_cursor)


async def record_use(session: AsyncSession, principal: Principal, voice_id: str) -> None:
    """Remember that the caller spoke with ``voice_id`` now, and count it in the caller's
    tenant (upserts, atomic under concurrent requests; the caller commits)."""
    await record_use_of(session, principal.tenant_id, principal.user_id, voice_id)


async def record_use_of(session: AsyncSession, tenant_id: str, user_id: str, voice_id: str) -> None:
    """``record_use`` for work that outlived its request (a job, by its submitter)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = insert(VoiceUse).values(user_id=user_id, voice_id=voice_id, used_at=now)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["user_id", "voice_id"], set_={"used_at": now})
    )
    count = insert(VoiceTenantUse).values(tenant_id=tenant_id, voice_id=voice_id, uses=1)
    await session.execute(
        count.on_conflict_do_update(
            index_elements=["tenant_id", "voice_id"],
            set_={"uses": VoiceTenantUse.uses + 1},
        )
    )


def _filtered(stmt: _Query, f: VoiceFilters, dialect: str) -> _Query:
    # User text goes into LIKE patterns escaped (autoescape): "_" or "%" match themselves.
    if f.scope is not None:
        stmt = stmt.where(Voice.scope == f.scope)
    if f.language:
        # "en" matches "en-US"; "en-US" matches exactly (BCP-47 prefix match).
        lang, wanted = func.lower(Voice.language), f.language.lower()
        stmt = stmt.where(or_(lang == wanted, lang.startswith(f"{wanted}-", autoescape=True)))
    if f.status is not None:
        stmt = stmt.where(Voice.status == f.status)
    if f.q:
        q = f.q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Voice.name).contains(q, autoescape=True),
                func.lower(Voice.description).contains(q, autoescape=True),
            )
        )
    if f.tag:
        stmt = stmt.where(_has_tag(f.tag, dialect))
    return stmt


def _has_tag(tag: str, dialect: str) -> Any:
    """The voice's tag list holds exactly ``tag``. Matched as JSON elements, not on the
    list's text: the JSON text spells non-ASCII tags as \\uXXXX escapes."""
    if dialect == "postgresql":
        # The column is ``json``; containment needs ``jsonb``.
        return cast(Voice.tags, postgresql.JSONB).contains([tag])
    elements = func.json_each(Voice.tags).table_valued("value")
    return exists().select_from(elements).where(elements.c.value == tag)


def _sort_key(voice: Voice, last_used: datetime, uses: int) -> list[Any]:
    rank = {VoiceScope.user: 0, VoiceScope.tenant: 1}.get(voice.scope, 2)
    return [aware(last_used).isoformat(), rank, uses, voice.name, voice.id]


def _encode_cursor(voice: Voice, last_used: datetime, uses: int) -> str:
    key = _sort_key(voice, last_used, uses)
    return cursors.encode(key)


def _decode_cursor(cursor: str) -> list[Any]:
    key = cursors.decode(cursor)
    try:
        used, rank, usage, name, voice_id = key
        when = aware(datetime.fromisoformat(str(used))).astimezone(UTC)
        rank, usage = int(rank), int(usage)
        if not (0 <= rank <= 2 and 0 <= usage < 2**31):  # VoiceTenantUse.uses is 32-bit
            raise ValueError("out of range")
        return [when, rank, usage, str(name), str(voice_id)]
    except (ValueError, TypeError, OverflowError) as exc:  # a cursor is the client's to forge
        raise cursors.refused() from exc


def _after(key: list[Any]) -> Any:
    """Rows strictly after ``key`` in the listing's order (keyset pagination)."""
    used, rank, usage, name, voice_id = key
    same_use = used == _LAST_USED
    same_rank = and_(same_use, rank == _SCOPE_RANK)
    same_usage = and_(same_rank, usage == _TENANT_USES)
    return or_(
        used > _LAST_USED,
        and_(same_use, rank < _SCOPE_RANK),
        and_(same_rank, usage > _TENANT_USES),
        and_(same_usage, Voice.name > name),
        and_(same_usage, Voice.name == name, Voice.id > voice_id),
    )


async def get_voice(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    stmt = select(Voice).where(Voice.id == voice_id, visible_voices(principal))
    voice = (await session.execute(stmt)).scalar_one_or_none()
    if voice is None:
        raise UnknownVoice(f"No voice {voice_id!r} is available to you.")
    return voice


async def find_voice(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    serves: Callable[[str], bool] = lambda _engine: True,
) -> Voice:
    """Resolve a voice by id, by engine voice key, or by OpenAI alias. An alias whose
    voice is not served here (no such voice, or its engine is not running: ``serves``)
    takes the first stock voice of the others that is: "alloy" was a 404 naming a voice
    the caller never asked for, or a 500 where Kokoro's voices outlived its engine."""
    alias = OPENAI_VOICE_ALIASES.get(ref.lower())
    if alias is None:
        return await _find_voice(session, principal, ref)
    for candidate in dict.fromkeys([alias, *sorted(OPENAI_VOICE_ALIASES.values())]):
        with suppress(UnknownVoice):
            voice = await _find_voice(session, principal, candidate)
            if serves(voice.engine):
                return voice
    raise UnknownVoice(f"No voice for {ref!r} is available here.")


async def _find_voice(session: AsyncSession, principal: Principal, ref: str) -> Voice:
    stmt = (
        select(Voice)
        .options(joinedload(Voice.licence))  # one round trip on every speak request, not two
        .where(visible_voices(principal))
        .where(or_(Voice.id == ref, func.lower(Voice.engine_voice) == ref.lower()))
        # One answer, always the same: the voice with that id; else, by engine key, the
        # nearest scope, then the oldest (a stock voice before a licensed voice a
        # superadmin later made on the same engine voice).
        .order_by(case((Voice.id == ref, 0), else_=1), _SCOPE_RANK, Voice.created_at, Voice.id)
        .limit(1)
    )
    voice = (await session.execute(stmt)).scalar_one_or_none()
    if voice is None:
        raise UnknownVoice(f"No voice {ref!r} is available to you.")
    return voice
