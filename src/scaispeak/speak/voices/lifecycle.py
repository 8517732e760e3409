"""A cloned voice's embedding lifecycle: processing -> ready | failed; evicted -> rebuilt.

``build_voice_embedding(voice_id, ctx=...)`` is the single entry point for a build: a
plain async function, so today's in-process ``VoiceBuilder`` and tomorrow's job queue
(issue 5) call the same thing. The database row is the source of truth: a build first
claims the row with a lease (a conditional UPDATE), renews it while the fitter runs,
and only a row still ``processing`` and not revoked may become ``ready``, so a
revocation that lands mid-build wins and the fresh embedding is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage import BlobStore
from scaispeak.settings import VoicesSettings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.errors import UnknownVoice
from scaispeak.speak.synthesis.audio import encode
from scaispeak.speak.voices import audit, blobs, purges
from scaispeak.speak.voices.analysis import AnalysisPool
from scaispeak.speak.voices.audio_input import decode_audio
from scaispeak.speak.voices.models import CLONE_ENGINE, Voice, VoiceStatus

_log = logging.getLogger(__name__)
_RELABEL_READS = 16
"""Embeddings read at once while relabelling at start-up (object-store round trips)."""
SYSTEM_ACTOR = "system"
PENDING_APPROVAL_REASON = "waiting for a superadmin to approve the consent document"


class VoiceFitter(Protocol):
    """Turns reference speech into the engine's embedding blob (the cloning fitter)."""

    @property
    def version(self) -> str:
        """Changes when the fitter's output changes; older embeddings are then evicted."""
        ...

    def version_of(self, blob: bytes) -> str | None:
        """The version an embedding answers to, read from it; None when it cannot tell."""
        ...

    def fit(self, pcm: Pcm, rate: int) -> bytes:
        """Blocking and slow (up to a minute or two); runs in the build pool."""
        ...


@dataclass
class BuildContext:
    db: Database
    storage: BlobStore
    fitter: VoiceFitter | None
    pool: AnalysisPool
    settings: VoicesSettings


def reference_wav(pcm: Pcm, rate: int) -> bytes:
    """How a reference clip is kept: 16-bit mono WAV at its own rate."""
    return encode(pcm, rate, "wav")


async def build_voice_embedding(voice_id: str, *, ctx: BuildContext) -> VoiceStatus | None:
    """Build (or rebuild) one voice's embedding; None when the row was not ours to build."""
    voice = await _claim(ctx, voice_id)
    if voice is None:
        return None
    heartbeat = asyncio.create_task(_renew_lease(ctx, voice_id))
    try:
        embedding = await _fit(ctx, voice)
    except Exception as exc:
        _log.warning("voice %s build failed: %s", voice_id, exc)
        return await _finish_failed(ctx, voice, f"embedding build failed: {exc}"[:500])
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    return await _finish_ready(ctx, voice, embedding)


async def _claim(ctx: BuildContext, voice_id: str) -> Voice | None:
    now = utcnow()
    lease = now + timedelta(seconds=ctx.settings.build_lease_s)
    async with ctx.db.sessions() as session:
        result = await session.execute(
            update(Voice)
            .where(Voice.id == voice_id, _buildable(now))
            .values(build_lease_until=lease)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if getattr(result, "rowcount", 0) != 1:
            return None
        return await session.get(Voice, voice_id)


def _buildable(now: datetime) -> ColumnElement[bool]:
    return and_(
        Voice.status == VoiceStatus.processing,
        Voice.revoked_at.is_(None),
        or_(Voice.build_lease_until.is_(None), Voice.build_lease_until < now),
    )


async def _renew_lease(ctx: BuildContext, voice_id: str) -> None:
    every = max(ctx.settings.build_lease_s / 3, 0.5)
    while True:
        await asyncio.sleep(every)
        lease = utcnow() + timedelta(seconds=ctx.settings.build_lease_s)
        async with ctx.db.sessions() as session:
            await session.execute(
                update(Voice)
                .where(Voice.id == voice_id, Voice.status == VoiceStatus.processing)
                .values(build_lease_until=lease)
            )
            await session.commit()


async def _fit(ctx: BuildContext, voice: Voice) -> bytes:
    if ctx.fitter is None:
        raise RuntimeError("no cloning engine runs in this deployment")
    if not voice.reference_blob:
        raise RuntimeError("the reference audio is gone")
    data = await ctx.storage.get(voice.reference_blob)
    audio = decode_audio(data, max_seconds=600.0, timeout_s=60.0)
    return await ctx.pool.run(ctx.fitter.fit, audio.pcm, audio.rate, owner=voice.tenant_id or "")


async def _finish_ready(ctx: BuildContext, voice: Voice, embedding: bytes) -> VoiceStatus | None:
    key = blobs.embedding_key(voice.id)
    await ctx.storage.put_bytes(key, embedding)
    version = ctx.fitter.version if ctx.fitter else ""
    async with ctx.db.sessions() as session:
        result = await session.execute(
            update(Voice)
            .where(
                Voice.id == voice.id,
                Voice.status == VoiceStatus.processing,
                Voice.revoked_at.is_(None),
            )
            .values(
                status=VoiceStatus.ready,
                status_reason="",
                embedding_blob=key,
                embedding_version=version,
                build_lease_until=None,
            )
        )
        if getattr(result, "rowcount", 0) != 1:
            await session.rollback()
            # Revoked or deleted while we fitted: the embedding must not survive. Not
            # if another build of the voice finished first: the key is that build's.
            if await _withdrawn(session, voice.id):
                await purges.schedule(session, [key])
                await session.commit()
                await purges.purge(session, ctx.storage, [key])
            return None
        await audit.append(
            session,
            audit.chain_for(voice.tenant_id),
            SYSTEM_ACTOR,
            "voice_ready",
            voice_id=voice.id,
            details={"embedding_version": version, "embedding_bytes": len(embedding)},
        )
        await session.commit()
    return VoiceStatus.ready


async def _withdrawn(session: AsyncSession, voice_id: str) -> bool:
    """Whether the voice is gone or its consent revoked (ends the read's transaction)."""
    revoked = await session.execute(select(Voice.revoked_at).where(Voice.id == voice_id))
    row = revoked.first()
    await session.commit()
    return row is None or row.revoked_at is not None


async def _finish_failed(ctx: BuildContext, voice: Voice, reason: str) -> VoiceStatus | None:
    async with ctx.db.sessions() as session:
        result = await session.execute(
            update(Voice)
            .where(Voice.id == voice.id, Voice.status == VoiceStatus.processing)
            .values(status=VoiceStatus.failed, status_reason=reason, build_lease_until=None)
        )
        if getattr(result, "rowcount", 0) != 1:
            await session.rollback()
            return None
        chain = audit.chain_for(voice.tenant_id)
        details = {"reason": reason}
        await audit.append(
            session, chain, SYSTEM_ACTOR, "voice_failed", voice_id=voice.id, details=details
        )
        await session.commit()
    return VoiceStatus.failed


async def waiting_builds(db: Database) -> list[tuple[str, str | None]]:
    """Voices in ``processing`` whose build no live process holds (never started, or
    left by a process that died: its lease ran out), oldest first, with their tenant."""
    async with db.sessions() as session:
        stmt = (
            select(Voice.id, Voice.tenant_id)
            .where(_buildable(utcnow()))
            .order_by(Voice.updated_at, Voice.id)
        )
        return [(voice_id, tenant_id) for voice_id, tenant_id in await session.execute(stmt)]


async def relabel_current(ctx: BuildContext, version: str) -> int:
    """Ready voices recorded under another version whose embedding answers to this one
    (read from the embedding) get this version: a new naming of the same fit (the
    tables' fingerprint added to it) must not evict, and refit, every cloned voice."""
    assert ctx.fitter is not None
    async with ctx.db.sessions() as session:
        rows = await session.execute(
            select(Voice.id, Voice.embedding_blob, Voice.embedding_version).where(
                Voice.status == VoiceStatus.ready,
                Voice.embedding_blob.is_not(None),
                Voice.embedding_version != version,
            )
        )
        candidates = rows.all()
    reads = asyncio.Semaphore(_RELABEL_READS)

    async def answers(voice_id: str, key: str | None) -> bool:
        async with reads:  # one at a time took ~30 ms a voice: minutes at 10k voices
            return key is not None and await _answers_to(ctx, voice_id, key, version)

    kept = await asyncio.gather(*(answers(voice_id, key) for voice_id, key, _ in candidates))
    relabelled = 0
    for (voice_id, _key, recorded), answered in zip(candidates, kept, strict=True):
        if not answered:
            continue
        async with ctx.db.sessions() as session:
            result = await session.execute(
                update(Voice)
                .where(Voice.id == voice_id, Voice.embedding_version == recorded)
                .values(embedding_version=version)
            )
            await session.commit()
        relabelled += int(getattr(result, "rowcount", 0) or 0)
    return relabelled


async def _answers_to(ctx: BuildContext, voice_id: str, key: str, version: str) -> bool:
    """Whether the stored embedding at ``key`` is one the fitter of ``version`` made."""
    assert ctx.fitter is not None
    try:
        embedding = await ctx.storage.get(key)
    except Exception:  # missing, unreadable, a store refusing: never a failed start
        _log.warning("voice %s: its embedding could not be read to keep it", voice_id)
        return False  # evicted next, and rebuilt from its reference
    return ctx.fitter.version_of(embedding) == version


async def evict_outdated(db: Database, version: str) -> int:
    """Mark ready cloned voices built by another fitter version ``evicted``, each with a
    ``voice_evicted`` audit entry (its rebuild ends in ``voice_ready``, as a build does):
    a voice's trail showed it ready, then ready again, and nothing of why."""
    reason = "the cloning model changed"
    async with db.sessions() as session:
        evicted = await session.execute(
            update(Voice)
            .where(
                Voice.status == VoiceStatus.ready,
                Voice.embedding_blob.is_not(None),
                Voice.embedding_version != version,
            )
            .values(status=VoiceStatus.evicted, status_reason=reason)
            .returning(Voice.id, Voice.tenant_id, Voice.embedding_version)
            .execution_options(synchronize_session=False)
        )
        rows = evicted.all()
        for voice_id, tenant_id, built_for in rows:
            details = {"reason": reason, "built_for": built_for, "current": version}
            chain = audit.chain_for(tenant_id)
            await audit.append(
                session, chain, SYSTEM_ACTOR, "voice_evicted", voice_id=voice_id, details=details
            )
        await session.commit()
        return len(rows)


def can_rebuild(voice: Voice) -> bool:
    """Evicted voices, and failed builds, rebuild from the reference while consent stands."""
    return (
        voice.status in REBUILDABLE
        and voice.revoked_at is None
        and voice.reference_blob is not None
    )


async def lock_for_withdrawal(session: AsyncSession, voice: Voice) -> list[str]:
    """Lock ``voice``'s row for its revocation or deletion, read it again, and return
    the keys of the audio and embedding to delete once that commits.

    On PostgreSQL a build finishing meanwhile waits for the lock, then finds the voice
    withdrawn and deletes its own embedding; one that finished first shows it in the
    row read here. The lock comes before the audit chain's, in the order a build's
    finish takes them: the other order deadlocks. SQLite has no row locks (its writers
    take turns), so a cloned voice's keys derived from its id are deleted too: the
    embedding may have been stored since the row was read.
    """
    voice_id = voice.id
    if (await session.connection()).dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE, and pysqlite begins a transaction only at its first
        # write: two revocations both read the voice unrevoked and both wrote (a second
        # audit entry, the record rewritten; a revoke racing a delete was a 500). A
        # no-op write first takes the database's write lock, so the read below comes
        # after the other withdrawal's commit.
        await session.execute(
            update(Voice)
            .where(Voice.id == voice_id)
            .values(id=Voice.id)
            .execution_options(synchronize_session=False)
        )
    locked = await session.execute(
        select(Voice)
        .where(Voice.id == voice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.scalar_one_or_none() is None:  # deleted since the caller read it
        raise UnknownVoice(f"Voice {voice_id} was deleted.")
    keys = {voice.reference_blob, voice.embedding_blob}
    if voice.engine == CLONE_ENGINE:
        keys |= {blobs.reference_key(voice.id), blobs.embedding_key(voice.id)}
    return sorted(k for k in keys if k)


REBUILDABLE = (VoiceStatus.evicted, VoiceStatus.failed)


async def mark_for_rebuild(
    session: AsyncSession,
    voice: Voice,
    reason: str = "rebuilding the embedding from the reference",
    *,
    from_states: tuple[VoiceStatus, ...] = REBUILDABLE,
) -> bool:
    """Queue a build by state alone (the builder picks ``processing`` rows), only while
    the voice is still in one of ``from_states``, has its reference and its consent:
    a conditional UPDATE, because ``voice`` may be stale. A warm or a use racing a
    revocation cannot put the revoked voice back to ``processing`` (where no build would
    ever take it), and one racing another warm cannot clear the lease of the build that
    warm started (two builds of one voice, the loser deleting the winner's embedding).
    Returns whether it was queued; the caller commits. A voice deleted meanwhile is
    ``UnknownVoice``."""
    voice_id = voice.id  # a failed refresh leaves the row's attributes unreadable
    queued = await session.execute(
        update(Voice)
        .where(
            Voice.id == voice_id,
            Voice.status.in_(from_states),
            Voice.reference_blob.is_not(None),
            Voice.revoked_at.is_(None),
        )
        .values(status=VoiceStatus.processing, status_reason=reason, build_lease_until=None)
        .execution_options(synchronize_session=False)
    )
    try:
        await session.refresh(voice)
    except InvalidRequestError:  # the row is gone
        raise UnknownVoice(f"Voice {voice_id} was deleted.") from None
    return getattr(queued, "rowcount", 0) == 1
