"""Seed each engine's stock voices as global voices with their licence records."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.speak.engines.base import EngineVoice
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.voices import audit
from scaispeak.speak.voices.library import global_voice_id
from scaispeak.speak.voices.licences import licence_record
from scaispeak.speak.voices.lifecycle import SYSTEM_ACTOR
from scaispeak.speak.voices.models import AuditEntry, Licence, Voice, VoiceScope, VoiceStatus


async def seed_global_voices(session: AsyncSession, registry: EngineRegistry) -> list[str]:
    """Create or refresh the global voice of every engine voice; returns their ids.

    Idempotent: runs at every start so a package upgrade refreshes licence metadata.
    A stock voice a superadmin deleted (a takedown) or edited (curation) is left as
    they left it: the global audit chain, which keeps every such change, says which.
    """
    await _one_seeder_at_a_time(session)
    curated = await _curated_voices(session)
    ids = []
    for engine_name, offered in registry.offered_voices():
        voice_id = global_voice_id(engine_name, offered.key)
        if voice_id in curated:
            continue
        licence = await _upsert_licence(session, f"lic_{voice_id.removeprefix('voc_')}", offered)
        await _upsert_voice(session, voice_id, engine_name, offered, licence.id)
        ids.append(voice_id)
    await session.commit()
    return ids


SEED_LOCK_KEY = 0x5CA15BEA_0000_0002
"""The advisory lock (a PostgreSQL bigint) seeding runs under (migrate.py has ..._0001)."""


async def _one_seeder_at_a_time(session: AsyncSession) -> None:
    """Replicas starting together on a fresh database (or after an upgrade that adds a
    stock voice) each read a voice as missing and insert it: the second insert failed
    and its replica did not start. On PostgreSQL the seeding transaction holds a lock
    until its commit, so the second waits and then finds the rows (each statement
    reads what is committed). SQLite has one process."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK_KEY})


async def _curated_voices(session: AsyncSession) -> set[str]:
    """Global voices a superadmin deleted or changed."""
    rows = await session.execute(
        select(AuditEntry.voice_id).where(
            AuditEntry.chain == audit.GLOBAL_CHAIN,
            AuditEntry.action.in_(["voice_deleted", "global_voice_updated"]),
        )
    )
    return {voice_id for voice_id in rows.scalars() if voice_id}


_SEEDED_FIELDS = ("licensor", "terms", "engine_licence", "voice_licence", "source")


async def _upsert_licence(session: AsyncSession, licence_id: str, offered: EngineVoice) -> Licence:
    """The stock voice's licence as the package now states it. A change to a licence
    already in use is audited (its row changes in place; the chain keeps the old)."""
    existing = await session.get(Licence, licence_id)
    licence = existing or Licence(id=licence_id)
    stated = {name: getattr(offered.licence, name) for name in _SEEDED_FIELDS}
    changed = any(getattr(licence, name) != value for name, value in stated.items())
    for name, value in stated.items():
        setattr(licence, name, value)
    session.add(licence)
    await session.flush()
    if existing is not None and changed:
        await audit.append(
            session,
            audit.GLOBAL_CHAIN,
            SYSTEM_ACTOR,
            "licence_reseeded",
            details=licence_record(licence),
        )
    return licence


async def _upsert_voice(
    session: AsyncSession, voice_id: str, engine: str, offered: EngineVoice, licence_id: str
) -> None:
    voice = await session.get(Voice, voice_id)
    if voice is None:
        voice = Voice(id=voice_id, scope=VoiceScope.global_, status=VoiceStatus.ready)
        session.add(voice)
    voice.name = offered.name
    voice.description = offered.description
    voice.language = offered.language
    voice.tags = list(offered.tags)
    voice.engine = engine
    voice.engine_voice = offered.key
    voice.licence_id = licence_id
