"""Changing voices in the library: metadata edits, promotion to the tenant, deletion.

Promotion takes two parties: the owner records their agreement to share a private
voice with the whole tenant (``agree_to_promotion``), then a tenant admin promotes it
(``promote_voice``). Both steps are audit entries, so the trail shows who agreed,
when, and who acted on it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.platform.errors import BadRequest
from scaispeak.platform.scoping import tenant_filter
from scaispeak.platform.storage import BlobStore
from scaispeak.speak.voices import audit, purges
from scaispeak.speak.voices.access import editable_voice, offered_voice, require_promoter
from scaispeak.speak.voices.errors import ConsentRevoked, PromotionNotAgreed
from scaispeak.speak.voices.lifecycle import lock_for_withdrawal
from scaispeak.speak.voices.models import (
    Consent,
    ConsentState,
    Voice,
    VoiceScope,
    VoiceUse,
)

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


@dataclass(frozen=True)
class VoiceChanges:
    """Fields a PATCH may set; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    language: str | None = None
    tags: list[str] | None = None

    def fields(self) -> list[str]:
        """The fields this PATCH sets."""
        return sorted(k for k, v in asdict(self).items() if v is not None)


def check_language(tag: str) -> str:
    # fullmatch: "$" also matched before a final newline, and "en\n" was stored (and
    # then missed by ?language=en).
    if not _LANGUAGE.fullmatch(tag):
        raise BadRequest(f"{tag!r} is not a BCP-47 language tag (e.g. en, en-US).")
    return tag


def apply_changes(voice: Voice, changes: VoiceChanges) -> None:
    """Set the fields a PATCH sent (None: left as it is)."""
    if changes.name is not None:
        voice.name = changes.name
    if changes.description is not None:
        voice.description = changes.description
    if changes.language is not None:
        voice.language = check_language(changes.language)
    if changes.tags is not None:
        voice.tags = sorted(set(changes.tags))
    voice.updated_at = utcnow()


async def audit_global_change(
    session: AsyncSession, principal: Principal, voice: Voice, details: dict[str, object]
) -> None:
    """Every change to a global voice is an entry in the global chain (and tells the
    start-up seeding to leave that stock voice as the superadmin left it)."""
    await audit.append(
        session,
        audit.GLOBAL_CHAIN,
        principal.user_id,
        "global_voice_updated",
        voice_id=voice.id,
        details=details,
    )


async def update_voice(
    session: AsyncSession, principal: Principal, voice_id: str, changes: VoiceChanges
) -> Voice:
    voice = await editable_voice(session, principal, voice_id)
    fields = changes.fields()
    if not fields:
        # Nothing to change. For a stock voice an entry would also have told seeding to
        # leave it as a superadmin left it, freezing it against package updates.
        return voice
    apply_changes(voice, changes)
    if voice.scope is VoiceScope.global_:
        await audit_global_change(session, principal, voice, {"fields": fields})
    await session.commit()
    return voice


async def agree_to_promotion(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    """The owner agrees that their private voice may become a tenant voice; agreeing
    again changes nothing (and writes no second audit entry)."""
    voice = await editable_voice(session, principal, voice_id)
    if voice.scope is not VoiceScope.user:
        raise BadRequest("Only a private (user) voice can be offered to the tenant.")
    if voice.promotion_agreed_at is not None:
        return voice
    voice.promotion_agreed_at = utcnow()
    await audit.append(
        session,
        audit.chain_for(voice.tenant_id),
        principal.user_id,
        "promotion_agreed",
        voice_id=voice.id,
        details={"owner_user_id": voice.owner_user_id},
    )
    await session.commit()
    return voice


async def offered_voices(session: AsyncSession, principal: Principal) -> list[Voice]:
    """Members' voices whose owners agreed to share them, oldest offer first: what a
    tenant admin may promote (and could not otherwise find, as private voices are
    invisible to them)."""
    require_promoter(principal)
    stmt = (
        select(Voice)
        .where(
            tenant_filter(Voice, principal),
            Voice.scope == VoiceScope.user,
            Voice.promotion_agreed_at.is_not(None),
            Voice.revoked_at.is_(None),
        )
        .order_by(Voice.promotion_agreed_at, Voice.id)
    )
    return list((await session.execute(stmt)).scalars())


async def promote_voice(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    """A tenant admin makes an offered user voice a tenant voice."""
    voice = await offered_voice(session, principal, voice_id)
    if voice.promotion_agreed_at is None:
        raise PromotionNotAgreed("The owner has not agreed to share this voice with the tenant.")
    if voice.revoked_at is not None:
        # It would become a tenant voice its owner could no longer delete.
        raise ConsentRevoked("Consent for this voice was revoked; it cannot be promoted.")
    agreed_at = voice.promotion_agreed_at
    voice.scope = VoiceScope.tenant
    await audit.append(
        session,
        audit.chain_for(voice.tenant_id),
        principal.user_id,
        "voice_promoted",
        voice_id=voice.id,
        details={
            "from_scope": "user",
            "to_scope": "tenant",
            "owner_user_id": voice.owner_user_id,
            "owner_agreed_at": agreed_at.isoformat(),
        },
    )
    await session.commit()
    return voice


async def delete_voice(
    session: AsyncSession, storage: BlobStore, principal: Principal, voice_id: str
) -> Voice:
    """Remove a voice from the library; a cloned voice's audio goes with it.

    Its consent record (marked revoked) and audit entries stay as the evidence trail.
    """
    voice = await editable_voice(session, principal, voice_id)
    await remove_voice(session, storage, voice, principal.user_id)
    return voice


async def delete_voices_of_user(
    session: AsyncSession, storage: BlobStore, user_id: str, by: str
) -> list[str]:
    """A deleted user's own voices, removed by ``by``, the admin who deleted them (a
    voice promoted to the tenant is the tenant's, and stays); their ids."""
    owned = await session.execute(
        select(Voice).where(Voice.scope == VoiceScope.user, Voice.owner_user_id == user_id)
    )
    removed = []
    for voice in list(owned.scalars()):
        await remove_voice(session, storage, voice, by)
        removed.append(voice.id)
    return removed


async def remove_voice(session: AsyncSession, storage: BlobStore, voice: Voice, by: str) -> None:
    """Remove ``voice`` for user ``by``; its consent ends and the audit trail says so."""
    keys = await lock_for_withdrawal(session, voice)
    now = utcnow()
    consents = await session.execute(
        update(Consent)
        .where(
            Consent.voice_id == voice.id,
            Consent.state.in_([ConsentState.active, ConsentState.pending_approval]),
        )
        .values(state=ConsentState.revoked, revoked_at=now, revoked_by=by)
    )
    await audit.append(
        session,
        audit.chain_for(voice.tenant_id),
        by,
        "voice_deleted",
        voice_id=voice.id,
        details={
            "scope": voice.scope.value,
            "blobs_deleted": keys,
            "consents_ended": int(getattr(consents, "rowcount", 0) or 0),
        },
    )
    await session.execute(delete(VoiceUse).where(VoiceUse.voice_id == voice.id))
    await session.delete(voice)
    await purges.schedule(session, keys)
    await session.commit()
    # After the commit: a failed commit must not leave a live voice without its audio.
    await purges.purge(session, storage, keys)
