"""A job's text is split into segments once more on every run, and its checkpoints
are numbered by that split: a run after a deploy that splits differently (a new
``max_clause_chars``, a changed rule) must not join old segments with new ones.

The split made at submit is kept as a digest on the job (``params["plan"]``); a run
whose split differs starts the job over, its checkpoints discarded (jobs submitted
before the digest existed are trusted as they are).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs import lease
from scaispeak.speak.jobs.assembly import discard_checkpoints, written_segments
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.synthesis.text import Segment


def plan_digest(segments: list[Segment]) -> str:
    """What identifies a split: the segments' texts, in order."""
    digest = hashlib.sha256()
    for segment in segments:
        digest.update(segment.text.encode("utf-8", "surrogatepass") + b"\x1e")
    return digest.hexdigest()


def split_differently(job: SynthJob, segments: list[Segment]) -> bool:
    planned = job.params.get("plan")
    return planned is not None and planned != plan_digest(segments)


async def match_split(
    session: AsyncSession, storage: BlobStore, job: SynthJob, segments: list[Segment], worker: str
) -> bool:
    """Make ``job``'s progress count in ``segments`` (starting over if it was split
    differently); False if the job's lease is gone meanwhile."""
    if not split_differently(job, segments):
        return True
    return await _start_over(session, storage, job, segments, worker)


async def _start_over(
    session: AsyncSession, storage: BlobStore, job: SynthJob, segments: list[Segment], worker: str
) -> bool:
    """Reset the job's progress to the new split, under this worker's lease, and
    reload ``job``; False if the lease is gone. Its checkpoints are discarded first
    (best effort)."""
    old = written_segments(job.segments_done, job.segments_total)
    await discard_checkpoints(storage, job.id, old)
    params = {**job.params, "plan": plan_digest(segments)}
    moved = await session.execute(
        update(SynthJob)
        .where(lease.ours(job.id, worker))
        .values(
            segments_total=len(segments),
            segments_done=0,
            characters_done=0,
            audio_seconds_done=0.0,
            characters_by_backend={},
            params=params,
        )
    )
    await session.commit()
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(job)
    await session.commit()  # no transaction left open through the synthesis
    return True
