"""A worker run by hand against a real database: a job row, and a pipeline without an
engine, for tests about what the worker does to the database rather than to audio."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np

from scaispeak.platform.auth.models import Tenant
from scaispeak.platform.db import Database
from scaispeak.platform.storage.base import BlobStore
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.runtime import JobRuntime
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SegmentAudio
from scaispeak.speak.voices.models import Voice, VoiceScope

RATE = 16_000
SegmentHook = Callable[[int], Awaitable[None]]


class StubPipeline:
    """Plans one segment per ``|``-separated part and speaks each as 0.1 s of silence,
    after awaiting ``hook(index)`` (where a test watches or holds the worker)."""

    fingerprint_seconds = 0.0

    def __init__(self, hook: SegmentHook | None = None) -> None:
        self.hook = hook
        self.engines = SimpleNamespace(get=lambda _name: SimpleNamespace(sample_rate=RATE))

    def plan(self, text: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(text=part) for part in text.split("|")]

    def pause_after(self, _segment: object) -> float:
        return 100.0

    def must_embed(self, _engine: str, _watermark: bool) -> bool:
        return False

    async def speak_segment(self, index: int, segment: Any, *_a: Any, **_k: Any) -> SegmentAudio:
        if self.hook is not None:
            await self.hook(index)
        return SegmentAudio(index, segment.text, np.zeros(RATE // 10, np.float32), 0.0, 0.1)


async def queued_job(db: Database, text: str = "one|two|three", attempts: int = 0) -> str:
    """A queued job of a fresh tenant with a voice of its own, held by an unbudgeted
    (never stored) reservation. Its user does not exist (its use is not counted)."""
    async with db.sessions() as session:
        tenant = Tenant(name="jobs")
        session.add(tenant)
        await session.flush()
        voice = Voice(
            id=f"voc_stub_{uuid.uuid4().hex[:12]}",
            scope=VoiceScope.tenant,
            tenant_id=tenant.id,
            name="stub",
            language="en-US",
            engine="stub",
            engine_voice="stub",
        )
        session.add(voice)
        job = SynthJob(
            tenant_id=tenant.id,
            user_id="usr_stub",
            voice_id=voice.id,
            state=JobState.queued,
            text=text,
            params={
                "format": "wav",
                "sample_rate": RATE,
                "speed": 1.0,
                "watermark": False,
                "routes": [{"backend": "stub", "engine": "stub", "engine_voice": "stub"}],
                "prices": {},
            },
            request_hash="stub",
            reservation_id=f"res_{uuid.uuid4().hex[:20]}",
            characters_total=len(text),
            segments_total=len(text.split("|")),
            attempts=attempts,
        )
        session.add(job)
        await session.commit()
        return job.id


def stub_runtime(
    db: Database,
    storage: BlobStore,
    pipeline: StubPipeline,
    settings: JobSettings,
    scratch_dir: Path,
) -> JobRuntime:
    scratch_dir.mkdir(parents=True, exist_ok=True)
    return JobRuntime(
        db=db,
        storage=storage,
        pipeline=cast(SynthesisPipeline, pipeline),
        settings=settings,
        worker_id=f"stub-{uuid.uuid4().hex[:8]}",
        signing_key="test-signing-key",
        scratch_dir=scratch_dir,
        drive_quota_bytes=None,
    )


async def job_of(db: Database, job_id: str) -> SynthJob:
    async with db.sessions() as session:
        row = await session.get(SynthJob, job_id)
        assert row is not None
        return row
