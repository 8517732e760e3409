"""Saving a finished job's audio into the caller's drive share, once across crashes.

``drive.write_file`` commits the file's row by itself, so a worker can die after the
file exists but before the job is marked succeeded. Its successor must then neither
fail on "file exists" nor write the file again: every run writes under a blob key that
names the job (``drive/<share>/<job id>-<attempt>``), and a file at the target whose
blob key names this job is this job's own earlier write, taken as already saved.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import User
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.drive import files as drive
from scaispeak.platform.drive.errors import FileExists, UnknownFile
from scaispeak.platform.errors import NotFound
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.synthesis.audio import AudioFormat, content_type


def blob_key_prefix(share_id: str, job_id: str) -> str:
    """What every drive blob this job writes starts with (and no other writer's does)."""
    return f"drive/{share_id}/{job_id}-"


async def save_to_share(
    session: AsyncSession,
    storage: BlobStore,
    job: SynthJob,
    attempt: int,
    result_key: str,
    fmt: AudioFormat,
) -> dict[str, Any]:
    """Write the result into ``job.save_to``, re-checking the permission now.

    Returns the file reference stored in ``saved_file``. Commits ``session``.
    """
    assert job.save_to is not None
    # Plain values: a rollback below expires ``job``, whose attributes would then
    # lazy-load outside SQLAlchemy's greenlet (MissingGreenlet).
    job_id, target = job.id, dict(job.save_to)
    principal = await _owner(session, job)
    share_id, path = target["share_id"], target["path"]
    earlier = await _own_earlier_write(session, principal, share_id, path, job_id)
    if earlier is not None:  # an earlier run saved it, then died before succeeding
        return asdict(earlier)
    try:
        ref = await drive.write_file(
            session,
            storage,
            principal,
            share_id,
            path,
            storage.stream(result_key),
            content_type(fmt),
            overwrite=bool(target.get("overwrite", False)),
            blob_key=f"{blob_key_prefix(share_id, job_id)}{attempt}",
        )
    except FileExists:
        # A run of this job that had lost its lease may have saved it meanwhile.
        await session.rollback()
        earlier = await _own_earlier_write(session, principal, share_id, path, job_id)
        if earlier is None:
            raise
        await session.refresh(job)  # the caller goes on with the row the rollback expired
        return asdict(earlier)
    return asdict(ref)


async def _owner(session: AsyncSession, job: SynthJob) -> Principal:
    owner = await session.get(User, job.user_id)
    if owner is None:
        raise NotFound("The user who submitted the job no longer exists; nothing was saved.")
    return Principal(owner.id, owner.tenant_id, owner.role)


async def _own_earlier_write(
    session: AsyncSession, principal: Principal, share_id: str, path: str, job_id: str
) -> drive.FileRef | None:
    """The file at the target, if this job wrote it; None if absent or someone else's."""
    try:
        row = await drive.get_file(session, principal, share_id, path)
    except UnknownFile:
        return None
    if not row.blob_key.startswith(blob_key_prefix(share_id, job_id)):
        return None
    url = drive.download_url(row.share_id, row.path)
    return drive.FileRef(row.share_id, row.path, row.size, row.sha256, row.content_type, url)
