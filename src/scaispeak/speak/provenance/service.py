"""Provenance rules and records: who gets a watermark, what is recorded, what /detect says.

Domain logic only (no HTTP). Cloned voices are always marked while the deployment's
``provenance.watermark`` is on; stock (global) voices follow the tenant's choice, or
the deployment default when the tenant made none. Every produced clip is recorded with
its fingerprint, marked or not, so a tenant can trace its own clips either way.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import new_id, put_row
from scaispeak.platform.errors import Forbidden
from scaispeak.platform.scoping import tenant_filter
from scaispeak.platform.tenant_cache import TenantCache
from scaispeak.settings import ProvenanceSettings, VoicesSettings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance import fingerprint as fp
from scaispeak.speak.provenance.models import ProvenanceRecord, TenantProvenance
from scaispeak.speak.provenance.watermark import DETECTION_THRESHOLD, Watermarker
from scaispeak.speak.voices.audio_input import decode_audio
from scaispeak.speak.voices.models import Voice, VoiceScope

_LOOKUP_BATCH = 200
"""Fingerprints loaded at a time while searching, so memory stays bounded."""
# Matching a fingerprint against a tenant's clips is seconds of CPU at the lookup's
# 2000 records (1.6 ms a pair, bench/fingerprint_lookup.py). In asyncio's default
# executor a few concurrent /detect calls took every thread the rest of the service
# hands its short file and encoder work to; here they wait for each other instead.
_MATCHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="provenance-match")
ANALYSIS_MAX_RATE = 48_000
"""Uploads are analysed at most at this rate: Perth listens at 32 kHz and fingerprints at
8 kHz, and a 300 s upload at 192 kHz decoded whole peaked at about 1.4 GB."""


@dataclass(frozen=True)
class WatermarkPolicy:
    enabled: bool
    """The deployment marks anything at all (cloned voices always, then)."""
    stock_voices: bool
    customised: bool
    """False while the tenant follows the deployment default."""


async def load_policy(
    session: AsyncSession, settings: ProvenanceSettings, tenant_id: str
) -> WatermarkPolicy:
    row = await session.get(TenantProvenance, tenant_id)
    if row is None:
        return WatermarkPolicy(settings.watermark, settings.watermark_stock_voices, False)
    return WatermarkPolicy(settings.watermark, row.watermark_stock_voices, True)


async def save_policy(
    session: AsyncSession, actor: Principal, settings: ProvenanceSettings, stock_voices: bool
) -> WatermarkPolicy:
    if not actor.is_admin_of(actor.tenant_id):
        raise Forbidden("Only a tenant admin may change the watermark policy.")

    async def change(row: TenantProvenance) -> None:
        row.watermark_stock_voices = stock_voices

    await put_row(
        session,
        lambda: session.get(TenantProvenance, actor.tenant_id),
        lambda: TenantProvenance(tenant_id=actor.tenant_id),
        change,
    )
    return WatermarkPolicy(settings.watermark, stock_voices, True)


def marks(policy: WatermarkPolicy, voice: Voice) -> bool:
    """Whether speech in ``voice`` is watermarked under ``policy``."""
    if not policy.enabled:
        return False
    if voice.scope is not VoiceScope.global_:
        return True  # a cloned voice: never unmarked while watermarking is on
    return policy.stock_voices


async def should_watermark(
    session: AsyncSession,
    settings: ProvenanceSettings,
    tenant_id: str,
    voice: Voice,
    cache: TenantCache[WatermarkPolicy] | None = None,
) -> bool:
    """``marks`` under the tenant's policy, read through ``cache`` when given."""
    if cache is None:
        return marks(await load_policy(session, settings, tenant_id), voice)
    policy = await cache.get(tenant_id, lambda: load_policy(session, settings, tenant_id))
    return marks(policy, voice)


@dataclass(frozen=True)
class ClipOrigin:
    """Who made a clip; ``request_id`` is a request, stream or job id (``kind``)."""

    tenant_id: str
    user_id: str
    request_id: str
    kind: str
    voice_id: str


def record_clip(
    session: AsyncSession,
    origin: ClipOrigin,
    *,
    watermarked: bool,
    duration_s: float,
    fingerprint: bytes,
) -> ProvenanceRecord:
    """Add the clip's record to ``session``; it lands with the caller's next commit."""
    row = ProvenanceRecord(
        id=new_id("prv"),
        tenant_id=origin.tenant_id,
        user_id=origin.user_id,
        request_id=origin.request_id,
        kind=origin.kind,
        voice_id=origin.voice_id,
        watermarked=watermarked,
        duration_s=round(duration_s, 3),
        fingerprint=fingerprint,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class UploadAnalysis:
    confidence: float
    duration_s: float
    fingerprint: fp.Words

    @property
    def watermarked(self) -> bool:
        return self.confidence >= DETECTION_THRESHOLD


def analyse_audio(pcm: Pcm, rate: int, watermarker: Watermarker) -> UploadAnalysis:
    """Watermark confidence and fingerprint of decoded audio. Blocking (a pool thread)."""
    confidence = watermarker.detect(pcm, rate)
    return UploadAnalysis(round(confidence, 4), pcm.size / rate, fp.fingerprint(pcm, rate))


def analyse_upload(
    data: bytes, settings: ProvenanceSettings, voices: VoicesSettings, watermarker: Watermarker
) -> UploadAnalysis:
    """Decode an uploaded file within the caps, then ``analyse_audio``. Blocking."""
    audio = decode_audio(
        data,
        max_seconds=settings.detect_max_seconds,
        timeout_s=voices.decode_timeout_s,
        max_rate=ANALYSIS_MAX_RATE,
    )
    return analyse_audio(audio.pcm, audio.rate, watermarker)


@dataclass(frozen=True)
class FoundOrigin:
    request_id: str
    user_id: str
    kind: str
    voice_id: str
    created_at: datetime
    watermarked: bool
    bit_error_rate: float
    offset_s: float


async def find_origin(
    session: AsyncSession, principal: Principal, query: fp.Words, max_records: int
) -> FoundOrigin | None:
    """The caller's own clip this fingerprint matches best, if any. Only the caller's
    tenant is searched (``tenant_filter``): another tenant's clip is never named. A
    member's search covers their own clips only (a colleague's is theirs to name); a
    tenant admin's covers the tenant, to find who made a clip that got out."""
    if query.size == 0:
        return None
    whose = tenant_filter(ProvenanceRecord, principal)
    if principal.role is Role.member:
        whose = and_(whose, ProvenanceRecord.user_id == principal.user_id)
    best: tuple[float, ProvenanceRecord, fp.Match] | None = None
    for offset in range(0, max_records, _LOOKUP_BATCH):
        stmt = (
            select(ProvenanceRecord)
            .where(whose)
            .order_by(ProvenanceRecord.created_at.desc(), ProvenanceRecord.id)
            .offset(offset)
            .limit(min(_LOOKUP_BATCH, max_records - offset))
        )
        rows = list((await session.execute(stmt)).scalars())
        if not rows:
            break
        matches = await _matched(query, rows)
        for row, found in zip(rows, matches, strict=True):
            if found.matched and (best is None or found.ber < best[0]):
                best = (found.ber, row, found)
    if best is None:
        return None
    _, row, found = best
    return FoundOrigin(
        row.request_id,
        row.user_id,
        row.kind,
        row.voice_id,
        row.created_at,
        row.watermarked,
        round(found.ber, 4),
        round(found.offset_s, 3),
    )


async def made_here_since(
    session: AsyncSession, queries: list[fp.Words], since: datetime | None, max_records: int
) -> bool:
    """Whether any of ``queries`` (one clip's fingerprints, perhaps at several speeds)
    matches a clip made since ``since`` (or among the most recent ``max_records``), in
    *any* tenant. For intake's replay check only: it answers yes or no and never says
    whose clip it was."""
    queries = [query for query in queries if query.size]
    if not queries:
        return False
    stmt = select(ProvenanceRecord).order_by(ProvenanceRecord.created_at.desc())
    if since is not None:
        stmt = stmt.where(ProvenanceRecord.created_at >= since)
    rows = list((await session.execute(stmt.limit(max_records))).scalars())
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_MATCHING, _any_matched, queries, rows)


def _any_matched(queries: list[fp.Words], rows: list[ProvenanceRecord]) -> bool:
    for row in rows:
        stored = fp.from_bytes(row.fingerprint)
        if any(fp.match(query, stored).matched for query in queries):
            return True
    return False


async def _matched(query: fp.Words, rows: list[ProvenanceRecord]) -> list[fp.Match]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_MATCHING, _match_all, query, rows)


def _match_all(query: fp.Words, rows: list[ProvenanceRecord]) -> list[fp.Match]:
    return [fp.match(query, fp.from_bytes(row.fingerprint)) for row in rows]
