"""Global voices and their licences: superadmin-only, no consent flow.

The licence (licensor, terms, source, proof document, validity window) is a global
voice's audit trail; every change is also an entry in the ``global`` audit chain.
Synthesis refuses a global voice outside its licence window (451).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import BadRequest
from scaispeak.platform.storage import BlobStore
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from scaispeak.speak.errors import UnknownVoice
from scaispeak.speak.voices import audit, blobs
from scaispeak.speak.voices.access import require_superadmin
from scaispeak.speak.voices.documents import document_type
from scaispeak.speak.voices.editing import (
    VoiceChanges,
    apply_changes,
    audit_global_change,
    check_language,
)
from scaispeak.speak.voices.models import (
    CLONE_ENGINE,
    Licence,
    Voice,
    VoiceScope,
    VoiceStatus,
    aware,
)


@dataclass(frozen=True)
class LicenceTerms:
    licensor: str | None = None
    terms: str | None = None
    source: str | None = None
    engine_licence: str | None = None
    voice_licence: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    fields_set: frozenset[str] = field(default_factory=frozenset)
    """Which fields the caller sent: a window bound sent as null is cleared."""


@dataclass(frozen=True)
class GlobalVoiceSpec:
    name: str
    language: str
    engine: str
    engine_voice: str
    licence: LicenceTerms
    description: str = ""
    tags: tuple[str, ...] = ()


def _check_engine_voice(engines: EngineRegistry, engine: str, engine_voice: str) -> None:
    # A voice names the engine that speaks it here; the relay reaches its voices
    # through SCAISPEAK_BACKENDS__RELAY__VOICE_MAP, by the voice's id.
    local = [name for name in engines.names() if name != RelayEngine.name]
    if engine not in local:
        raise BadRequest(f"Engine {engine!r} does not run here; use one of {local}.")
    if engine == CLONE_ENGINE:
        # Its "voices" are tenants' cloned voices, each under its speaker's consent
        # and its tenant's scope; a licence cannot stand in for either.
        raise BadRequest("A cloned voice cannot be a global voice; it rests on consent.")
    offered = {v.key for v in engines.get(engine).voices()}
    if engine_voice not in offered:
        raise BadRequest(f"Engine {engine!r} offers no voice {engine_voice!r}.")


def _apply_terms(licence: Licence, terms: LicenceTerms) -> None:
    for name in ("licensor", "terms", "source", "engine_licence", "voice_licence"):
        value = getattr(terms, name)
        if value is not None:
            setattr(licence, name, value)
    for name in ("valid_from", "valid_until"):
        if name in terms.fields_set:
            setattr(licence, name, getattr(terms, name))
    if _ends_before_it_starts(licence):
        raise BadRequest("The licence must end after it starts (valid_until > valid_from).")


def _ends_before_it_starts(licence: Licence) -> bool:
    # Compared as aware values, like Licence.is_valid_at: a bound loaded from SQLite is
    # naive (stored in UTC) while the bound this request sets is usually aware.
    start, end = licence.valid_from, licence.valid_until
    return start is not None and end is not None and aware(end) <= aware(start)


def licence_record(licence: Licence) -> dict[str, Any]:
    """The whole licence as it now stands: its row is changed in place, so the audit
    trail is the only record of the terms that applied before a change."""
    return {
        "licence_id": licence.id,
        "licensor": licence.licensor,
        "terms": licence.terms,
        "source": licence.source,
        "engine_licence": licence.engine_licence,
        "voice_licence": licence.voice_licence,
        "valid_from": licence.valid_from.isoformat() if licence.valid_from else None,
        "valid_until": licence.valid_until.isoformat() if licence.valid_until else None,
    }


async def create_global_voice(
    session: AsyncSession, principal: Principal, engines: EngineRegistry, spec: GlobalVoiceSpec
) -> Voice:
    require_superadmin(principal)
    _check_engine_voice(engines, spec.engine, spec.engine_voice)
    if not spec.licence.licensor:
        raise BadRequest("A global voice needs a licence with a licensor.")
    licence = Licence(licensor=spec.licence.licensor, terms="", source="")
    _apply_terms(licence, spec.licence)
    session.add(licence)
    await session.flush()
    voice = Voice(
        scope=VoiceScope.global_,
        name=spec.name,
        description=spec.description,
        language=check_language(spec.language),
        tags=sorted(set(spec.tags)),
        engine=spec.engine,
        engine_voice=spec.engine_voice,
        status=VoiceStatus.ready,
        licence_id=licence.id,
    )
    session.add(voice)
    await session.flush()
    details = {"name": voice.name, "engine": voice.engine, **licence_record(licence)}
    await audit.append(
        session,
        audit.GLOBAL_CHAIN,
        principal.user_id,
        "global_voice_created",
        voice_id=voice.id,
        details=details,
    )
    await session.commit()
    await session.refresh(voice, ["licence"])
    return voice


async def global_voice(session: AsyncSession, voice_id: str) -> Voice:
    voice = await session.get(Voice, voice_id)
    if voice is None or voice.scope is not VoiceScope.global_:
        raise UnknownVoice(f"No global voice {voice_id!r}.")
    return voice


async def update_global_voice(
    session: AsyncSession,
    principal: Principal,
    voice_id: str,
    changes: VoiceChanges,
    terms: LicenceTerms | None,
) -> Voice:
    require_superadmin(principal)
    voice = await global_voice(session, voice_id)
    if not changes.fields() and terms is None:
        return voice  # an entry would freeze a stock voice against package updates
    apply_changes(voice, changes)
    if terms is not None:
        licence = voice.licence or Licence(licensor=terms.licensor or "unknown")
        _apply_terms(licence, terms)
        session.add(licence)
        await session.flush()
        voice.licence_id = licence.id
    details = licence_record(voice.licence) if voice.licence else {}
    await audit_global_change(session, principal, voice, details)
    await session.commit()
    await session.refresh(voice, ["licence"])
    return voice


async def attach_licence_proof(
    session: AsyncSession, storage: BlobStore, principal: Principal, voice_id: str, data: bytes
) -> Voice:
    """Store the signed licence (PDF, PNG or JPEG) as the voice's proof document."""
    require_superadmin(principal)
    voice = await global_voice(session, voice_id)
    if voice.licence is None:
        raise BadRequest("This voice has no licence to attach a proof to.")
    media_type = document_type(data)
    sha256 = audit.fingerprint(data)
    key = blobs.licence_proof_key(voice.licence.id, sha256)
    await storage.put_bytes(key, data)
    voice.licence.proof_blob = key
    await audit.append(
        session,
        audit.GLOBAL_CHAIN,
        principal.user_id,
        "licence_proof_attached",
        voice_id=voice.id,
        details={
            "licence_id": voice.licence.id,
            "media_type": media_type,
            "sha256": sha256,
            "bytes": len(data),
            "blob": key,
        },
    )
    await session.commit()
    return voice


async def licence_proof(
    session: AsyncSession, storage: BlobStore, principal: Principal, voice_id: str
) -> tuple[bytes, str]:
    require_superadmin(principal)
    voice = await global_voice(session, voice_id)
    if voice.licence is None or not voice.licence.proof_blob:
        raise UnknownVoice(f"Global voice {voice_id!r} has no proof document.")
    data = await storage.get(voice.licence.proof_blob)
    return data, document_type(data)
