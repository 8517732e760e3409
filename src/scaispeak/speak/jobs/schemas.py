"""Job bodies, shared by the endpoints and the webhook events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob


class JobProgress(BaseModel):
    characters_done: int
    characters_total: int
    segments_done: int
    segments_total: int
    audio_seconds: float = Field(
        description="Speech synthesized so far, without the pauses between sentences, "
        "which are added when the audio is joined: the job's own audio_seconds, once it "
        "succeeded, is the length of its audio."
    )
    fraction: float


class WebhookStatus(BaseModel):
    state: Literal["pending", "delivered", "failed"] = Field(
        description="pending: not yet answered with a 2xx, attempts continue; "
        "failed: every attempt failed, or the URL now leads to a refused address."
    )
    attempts: int
    delivered_at: datetime | None


class JobOut(BaseModel):
    id: str
    state: JobState
    voice_id: str
    format: str
    sample_rate: int
    progress: JobProgress
    error: str
    audio_url: str | None
    audio_expired: bool = Field(
        description="The job succeeded, and its audio was deleted after "
        "SCAISPEAK_JOBS__RESULT_TTL_S."
    )
    audio_bytes: int | None
    audio_seconds: float | None
    saved_file: dict[str, Any] | None
    attempts: int
    webhook: WebhookStatus | None = Field(
        description="The job-ended event's delivery; null without a webhook_url, while "
        "the job runs, or when its caller cancelled it (no event is sent then)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_out(job: SynthJob) -> JobOut:
    succeeded = job.state.value == "succeeded"
    done = succeeded and job.result_key is not None
    total = max(job.characters_total, 1)
    return JobOut(
        id=job.id,
        state=job.state,
        voice_id=job.voice_id,
        format=job.params["format"],
        sample_rate=int(job.params["sample_rate"]),
        progress=JobProgress(
            characters_done=job.characters_done,
            characters_total=job.characters_total,
            segments_done=job.segments_done,
            segments_total=job.segments_total,
            audio_seconds=round(job.audio_seconds_done, 3),
            fraction=round(job.characters_done / total, 4),
        ),
        error=job.error,
        audio_url=f"/v1/modules/scaispeak/jobs/{job.id}/audio" if done else None,
        audio_expired=succeeded and job.result_key is None,
        audio_bytes=job.result_bytes,
        audio_seconds=None if job.result_seconds is None else round(job.result_seconds, 3),
        saved_file=job.saved_file,
        attempts=job.attempts,
        webhook=_webhook_status(job),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _webhook_status(job: SynthJob) -> WebhookStatus | None:
    if job.webhook_url is None or job.state not in TERMINAL:
        return None
    if job.webhook_due_at is None and job.webhook_attempts == 0:
        # Ended before deliveries were stored (migration 0009), or cancelled by its
        # caller (no event); a cancel for a withdrawn voice sets one due.
        return None
    state: Literal["pending", "delivered", "failed"] = "failed"
    if job.webhook_delivered_at is not None:
        state = "delivered"
    elif job.webhook_due_at is not None:
        state = "pending"
    return WebhookStatus(
        state=state, attempts=job.webhook_attempts, delivered_at=job.webhook_delivered_at
    )
