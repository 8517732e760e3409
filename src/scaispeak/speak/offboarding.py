"""What a deleted user made in speech, removed (``DELETE /v1/users/{id}``).

The platform deletes the user (platform/auth/service.delete_user: keys revoked, email
and name erased) and then runs this, registered by app.py. Each step is safe to run
again: deleting the user again finishes what a stop left undone.
"""

from __future__ import annotations

import logging

from scaispeak.platform.db import Database
from scaispeak.platform.storage import BlobStore
from scaispeak.speak.jobs.retention import forget_jobs_of_user
from scaispeak.speak.jobs.service import cancel_jobs_of_user
from scaispeak.speak.voices.editing import delete_voices_of_user
from scaispeak.speak.voices.runtime import VoicesRuntime

_log = logging.getLogger(__name__)


async def remove_speech_of_user(
    db: Database, storage: BlobStore, voices: VoicesRuntime, user_id: str, by: str
) -> None:
    """Their queued and running jobs stopped, every job's audio deleted and its text
    forgotten (the rows stay, with their charges), and their own voices deleted with
    their reference audio and embeddings (consent records and audit entries stay as
    evidence, as when a voice is deleted, naming ``by``, the admin who deleted the user).

    A job submitted in the moment the user is deleted may escape the cancel: deleting
    the user again stops it."""
    cancelled = await cancel_jobs_of_user(db, user_id, storage)
    forgotten = await forget_jobs_of_user(db, storage, user_id)
    async with db.sessions() as session:
        removed = await delete_voices_of_user(session, storage, user_id, by)
    for voice_id in removed:
        voices.forget(voice_id)  # its jobs, the user's own, were cancelled above
    _log.info(
        "deleted user %s: %d jobs cancelled, %d forgotten, %d voices deleted",
        user_id,
        len(cancelled),
        forgotten,
        len(removed),
    )
