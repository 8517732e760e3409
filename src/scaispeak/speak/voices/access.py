"""Who may change a voice, in one place.

- a global voice: superadmins only;
- a tenant voice: that tenant's admins;
- a user voice: its owner (tenant admins cannot even see members' private voices,
  until the owner agrees to share one with the tenant).

Consent is the speaker's side's own: the voice's owner and whoever recorded its consent
may always read its trail and revoke it, even once the voice is promoted to the tenant
and they may no longer edit it (``may_manage_consent``).

A voice the caller cannot see is a 404 (``library.get_voice``); one they can see but
not change is a 403. Superadmins are the platform's operators: for consent decisions
and takedowns (approve, reject, revoke) they reach any tenant's voice by id.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import Forbidden
from scaispeak.platform.scoping import tenant_filter
from scaispeak.speak.errors import UnknownVoice
from scaispeak.speak.voices.errors import VoiceNotEditable
from scaispeak.speak.voices.library import get_voice
from scaispeak.speak.voices.models import Consent, Voice, VoiceScope


def may_edit(principal: Principal, voice: Voice) -> bool:
    if voice.scope is VoiceScope.global_:
        return principal.is_superadmin
    if voice.scope is VoiceScope.tenant:
        return voice.tenant_id is not None and principal.is_admin_of(voice.tenant_id)
    return voice.owner_user_id == principal.user_id


def may_manage_consent(principal: Principal, voice: Voice, consent: Consent | None) -> bool:
    """Read the consent trail and revoke it: the voice's editors, its owner (a promoted
    voice is no longer theirs to edit, but their consent is still theirs to withdraw)
    and the user who recorded the consent."""
    return (
        may_edit(principal, voice)
        or voice.owner_user_id == principal.user_id
        or (consent is not None and consent.created_by == principal.user_id)
    )


async def editable_voice(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    voice = await get_voice(session, principal, voice_id)
    if not may_edit(principal, voice):
        raise VoiceNotEditable(f"Your role may not change voice {voice_id}.")
    return voice


async def operated_voice(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    """A voice the caller may edit, or, for a superadmin, any voice at all."""
    if not principal.is_superadmin:
        return await editable_voice(session, principal, voice_id)
    voice = await session.get(Voice, voice_id)
    if voice is None:
        raise UnknownVoice(f"No voice {voice_id!r}.")
    return voice


async def offered_voice(session: AsyncSession, principal: Principal, voice_id: str) -> Voice:
    """A member's voice whose owner agreed to share it, as a tenant admin sees it."""
    require_promoter(principal)
    stmt = select(Voice).where(
        Voice.id == voice_id,
        tenant_filter(Voice, principal),
        Voice.scope == VoiceScope.user,
    )
    voice = (await session.execute(stmt)).scalar_one_or_none()
    owned = voice is not None and voice.owner_user_id == principal.user_id
    if voice is None or (voice.promotion_agreed_at is None and not owned):
        # An unshared private voice stays invisible, even to the tenant's admin.
        raise UnknownVoice(f"No voice {voice_id!r} is offered to your tenant.")
    return voice


def require_promoter(principal: Principal) -> None:
    if not principal.is_admin_of(principal.tenant_id):
        raise Forbidden("Only a tenant admin promotes voices to the tenant.")


def require_superadmin(principal: Principal) -> None:
    if not principal.is_superadmin:
        raise Forbidden("Only a platform superadmin may do this.")
