"""Saving a finished job's audio into the caller's drive share, in the job's last commit.

The file is staged (its bytes uploaded, its row pointed at them in an open
transaction) and lands in the commit that marks the job succeeded and charges it. A
worker that dies, or a cancel that wins, therefore leaves the share as it was: there
is never a saved file for a job that did not succeed, nor one that was not charged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import User
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.drive import files as drive
from scaispeak.platform.errors import NotFound
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.synthesis.audio import AudioFormat, content_type


@asynccontextmanager
async def saving_to_share(
    session: AsyncSession,
    storage: BlobStore,
    job: SynthJob,
    result_key: str,
    fmt: AudioFormat,
    quota_bytes: int | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Stage the result at ``job.save_to`` (the permission checked again now).

    Yields the file reference for ``saved_file``; the block marks the job succeeded
    and commits, and the file lands with that commit. If the block raises, nothing of
    the write remains.
    """
    assert job.save_to is not None
    target = dict(job.save_to)
    staged = drive.staged_write(
        session,
        storage,
        await _owner(session, job),
        target["share_id"],
        target["path"],
        storage.stream(result_key),
        content_type(fmt, int(job.params["sample_rate"])),  # raw PCM names its rate
        overwrite=bool(target.get("overwrite", False)),
        quota_bytes=quota_bytes,
    )
    async with staged as ref:
        # A lost race inside the write rolls back, which expires the row; the block
        # reads it next.
        await session.refresh(job)
        yield asdict(ref)


async def _owner(session: AsyncSession, job: SynthJob) -> Principal:
    owner = await session.get(User, job.user_id)
    if owner is None:
        raise NotFound("The user who submitted the job no longer exists; nothing was saved.")
    return Principal(owner.id, owner.tenant_id, owner.role)
