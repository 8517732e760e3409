"""HTTP routes for synth jobs (thin): list, read, download (with Range), cancel."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.blob_response import (
    BlobAnswer,
    blob_head,
    blob_response,
    copy_is_current,
    range_is_stale,
)
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, platform_context
from scaispeak.platform.errors import Conflict, ServiceError
from scaispeak.platform.ranges import parse_range
from scaispeak.platform.storage.base import BlobNotFound
from scaispeak.speak.jobs import retention, service, webhook_secrets
from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob
from scaispeak.speak.jobs.schemas import JobOut, job_out
from scaispeak.speak.jobs.webhook_secrets import SigningSecrets, secrets_of
from scaispeak.speak.jobs.webhooks import SIGNATURE_HEADER
from scaispeak.speak.synthesis.audio import AudioFormat, content_type, file_extension

router = APIRouter(prefix="/v1/modules/scaispeak/jobs", tags=["scaispeak: jobs"])


class JobPageOut(BaseModel):
    items: list[JobOut]
    next_before: str | None


class WebhookSecretOut(BaseModel):
    secret: str
    header: str = SIGNATURE_HEADER
    scheme: str = (
        "t=<unix seconds>,v1=hex(HMAC-SHA256(secret, f'{t}.{body}')); "
        "a second v1 while a rotation's grace lasts: accept any v1 that matches"
    )
    previous_valid_until: datetime | None = Field(
        None,
        description="After a rotation: until when events are also signed with the "
        "replaced secret (a second v1=).",
    )

    @classmethod
    def of(cls, secrets: SigningSecrets) -> WebhookSecretOut:
        return cls(secret=secrets.current, previous_valid_until=secrets.previous_valid_until)


class JobNotFinished(Conflict):
    code, title = "job_not_finished", "Job has no audio yet"


_log = logging.getLogger(__name__)


class AudioExpired(ServiceError):
    status, code, title = 410, "audio_expired", "Audio no longer kept"


class AudioMissing(ServiceError):
    """A succeeded job's audio, within its retention, is not in storage: a fault of the
    deployment's, not the caller's (it was never "expired")."""

    status, code, title = 500, "audio_missing", "Job audio missing from storage"


JOB_AUDIO_RETRY_S = 2
"""Retry-After while a job is queued or running (its progress is on GET /jobs/{id})."""


def _not_finished(job: SynthJob) -> JobNotFinished:
    """A job still at work says when to ask again; a failed or cancelled one never will."""
    if job.state in TERMINAL:
        return JobNotFinished(f"Job {job.id} is {job.state.value}; it has no audio.")
    error = JobNotFinished(f"Job {job.id} is {job.state.value}; audio comes when it succeeds.")
    error.come_back_in(JOB_AUDIO_RETRY_S)
    return error


@router.get("")
async def list_jobs(
    request: Request,
    session: Session,
    caller: Caller,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    before: str | None = None,
) -> JobPageOut:
    limit = min(limit, platform_context(request).settings.limits.page_size_max)
    # One row past the page says whether another page exists: a full last page must
    # not hand out a cursor to an empty one.
    jobs = await service.list_jobs(session, caller, state=state, limit=limit + 1, before=before)
    page = jobs[:limit]
    more = page[-1].id if len(jobs) > limit else None
    return JobPageOut(items=[job_out(j) for j in page], next_before=more)


@router.get("/webhook-secret")
async def get_webhook_secret(
    request: Request, session: Session, caller: ApiKeyCaller
) -> WebhookSecretOut:
    """The caller's own secret: events of the jobs they submit are signed with it.
    A credential, so an API key is needed (a browser token is refused)."""
    key = platform_context(request).signing_key
    return WebhookSecretOut.of(await secrets_of(session, key, caller.tenant_id, caller.user_id))


@router.post("/webhook-secret/rotate")
async def rotate_webhook_secret(
    request: Request,
    session: Session,
    caller: ApiKeyCaller,
    grace_s: Annotated[
        int,
        Query(
            ge=0,
            le=int(webhook_secrets.ROTATION_GRACE.total_seconds()),
            description="How long events also carry a v1= by the replaced secret; 0 for "
            "none (for a receiver that keeps only one v1).",
        ),
    ] = int(webhook_secrets.ROTATION_GRACE.total_seconds()),
) -> WebhookSecretOut:
    """Replace the caller's secret (after a leak). For ``grace_s`` (24 hours unless
    asked otherwise) events are signed with both the new and the replaced secret, so a
    receiver that checks every ``v1`` can switch without a gap."""
    key = platform_context(request).signing_key
    rotated = await webhook_secrets.rotate(session, key, caller, timedelta(seconds=grace_s))
    return WebhookSecretOut.of(rotated)


@router.get("/{job_id}")
async def get_job(session: Session, caller: Caller, job_id: str) -> JobOut:
    return job_out(await service.get_job(session, caller, job_id))


@router.delete("/{job_id}")
async def cancel_job(request: Request, session: Session, caller: Caller, job_id: str) -> JobOut:
    storage = platform_context(request).storage
    return job_out(await service.cancel_job(session, storage, caller, job_id))


_AUDIO_CONTENT: dict[str, object] = {content_type(fmt).split(";")[0]: {} for fmt in AudioFormat}
_AUDIO_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The finished audio, in the job's format.", "content": _AUDIO_CONTENT},
    206: {"description": "The range of it asked for.", "content": _AUDIO_CONTENT},
    304: {"description": "If-None-Match named the audio's ETag: the copy held is current."},
    416: {},
}


@router.get("/{job_id}/audio", response_class=StreamingResponse, responses=_AUDIO_RESPONSES)
async def job_audio(request: Request, session: Session, caller: Caller, job_id: str) -> Response:
    """The finished audio; honours a single ``Range`` (206), ``If-Range`` and
    ``If-None-Match`` (a job's audio never changes: its ETag is the job's id)."""
    return await _audio_answer(request, session, caller, job_id, blob_response)


@router.delete("/{job_id}/audio")
async def delete_job_audio(
    request: Request, session: Session, caller: ApiKeyCaller, job_id: str
) -> JobOut:
    """Delete a finished job's audio and text now, before its retention ends (the job's
    record stays, ``audio_expired``); 409 while the job is queued or running."""
    job = await service.get_job(session, caller, job_id)
    if job.state not in TERMINAL:
        raise _not_finished(job)
    if job.result_key is not None:
        storage = platform_context(request).storage
        await retention.delete_audio(session, storage, job.id, job.result_key)
    await retention.forget_job(session, job)  # its webhook fields, untouched above
    return job_out(await service.get_job(session, caller, job_id))


@router.head("/{job_id}/audio", response_class=Response, responses=_AUDIO_RESPONSES)
async def job_audio_head(
    request: Request, session: Session, caller: Caller, job_id: str
) -> Response:
    """The GET's status and headers; the blob is only looked up, not read."""
    return await _audio_answer(request, session, caller, job_id, blob_head)


def _expired(job: SynthJob) -> AudioExpired:
    # Its owner's DELETE and the retention sweep leave the same trace.
    return AudioExpired(
        f"Job {job.id}'s audio was deleted, by its owner or after its retention period."
    )


async def _audio_answer(
    request: Request,
    session: AsyncSession,
    caller: Principal,
    job_id: str,
    answer: BlobAnswer,
) -> Response:
    job = await service.get_job(session, caller, job_id)
    if job.state is JobState.succeeded and job.result_key is None:
        raise _expired(job)
    if job.state is not JobState.succeeded or job.result_key is None or job.result_bytes is None:
        raise _not_finished(job)
    await session.close()
    etag = f'"{job.id}"'
    if copy_is_current(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers={"ETag": etag})
    stale = range_is_stale(request.headers.get("if-range"), etag)
    wanted = None if stale else parse_range(request.headers.get("range"), job.result_bytes)
    storage = platform_context(request).storage
    fmt = AudioFormat(job.params["format"])
    media_type = content_type(fmt, int(job.params["sample_rate"]))
    name = f"{job.id}.{file_extension(fmt)}"
    headers = {"ETag": etag, "Content-Disposition": f'inline; filename="{name}"'}
    try:
        return await answer(
            storage,
            job.result_key,
            job.result_bytes,
            wanted,
            media_type=media_type,
            headers=headers,
        )
    except BlobNotFound as exc:
        if (await service.get_job(session, caller, job_id)).result_key is None:
            # The retention sweep deleted it after this request read the job.
            raise _expired(job) from exc
        # Never stored where this process reads: a worker on storage of its own.
        _log.error("job %s: its audio %s is not in storage", job.id, job.result_key)
        raise AudioMissing(
            f"Job {job.id}'s audio is not in this deployment's storage; its operators "
            "have been told (a worker on other storage than the API's?)."
        ) from exc
