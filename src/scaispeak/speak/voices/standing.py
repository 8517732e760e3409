"""Whether a voice already speaking (a stream, a job) may go on speaking.

Long work checked its voice once, when it was asked for; consent revoked for a cloned
voice, the voice deleted, or a global voice's licence running out must end it, not
only refuse the next request (streaming/permit.py, jobs/permit.py).
"""

from __future__ import annotations

from scaispeak.platform.db import utcnow
from scaispeak.speak.errors import VoiceLicenceExpired, VoiceWithdrawn
from scaispeak.speak.voices.models import Voice


def ensure_still_usable(voice: Voice | None, voice_id: str, work: str) -> None:
    """Raise the error a new request would get once ``voice`` (read again) is withdrawn;
    ``work`` names what was speaking with it ("the stream")."""
    if voice is None or voice.revoked_at is not None:
        raise VoiceWithdrawn(
            f"Voice {voice_id} was withdrawn while {work} spoke with it "
            "(its consent was revoked, or it was deleted)."
        )
    if voice.licence is not None and not voice.licence.is_valid_at(utcnow()):
        raise VoiceLicenceExpired(f"The licence for voice {voice.id} has run out.")
