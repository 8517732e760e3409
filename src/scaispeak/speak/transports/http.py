"""HTTP endpoints of the module: the voice library and inline synthesis (thin)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.deps import Caller, Session, platform_context
from scaispeak.platform.drive import files as drive
from scaispeak.speak.context import speak_context
from scaispeak.speak.errors import TimestampsUnavailable
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.schemas import JobOut, job_out
from scaispeak.speak.jobs.service import SaveTo
from scaispeak.speak.jobs.submit import Submission, check_save_to, submit_job
from scaispeak.speak.synthesis import audio
from scaispeak.speak.synthesis.batch import (
    PassingResult,
    SpokenResult,
    record_delivery,
    speak_clip,
)
from scaispeak.speak.synthesis.service import SpeakParams
from scaispeak.speak.synthesis.settlement import Keeper
from scaispeak.speak.synthesis.speech import SpokenClip
from scaispeak.speak.transports.passed import PassedAudio, until_disconnected, usage_of
from scaispeak.speak.transports.schemas import (
    ListedVoiceOut,
    SavedFileOut,
    SpeakRequest,
    VoiceOut,
    VoicePageOut,
)
from scaispeak.speak.transports.sse import SpeechEvents, whole_clip_events
from scaispeak.speak.voices import library
from scaispeak.speak.voices.models import VoiceScope, VoiceStatus

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["scaispeak"])

AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audio, in the requested format.",
        "content": {audio.content_type(fmt).split(";")[0]: {} for fmt in audio.AudioFormat},
    }
}
SPEAK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audio, in the requested format (JSON with timestamps=true); with"
        " save_to that replaced a file, the file reference.",
        "content": {
            **AUDIO_RESPONSES[200]["content"],
            "application/json": {},
        },
    },
    201: {
        "description": "With save_to: the audio was stored in a new file (Location: its"
        " download URL; 200 when it replaced one); the body is the file reference.",
        "model": SavedFileOut,
    },
    202: {
        "description": "A job was queued (long text, mode=async or a webhook_url);"
        " Location points at it.",
        "model": JobOut,
    },
}


@router.get("/voices")
async def list_voices(
    request: Request,
    session: Session,
    caller: Caller,
    scope: VoiceScope | None = None,
    language: str | None = None,
    tag: str | None = None,
    status: VoiceStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
) -> VoicePageOut:
    limit = min(limit, platform_context(request).settings.limits.page_size_max)
    filters = library.VoiceFilters(scope, language, tag, status, q)
    page = await library.list_voices(session, caller, filters, limit=limit, cursor=cursor)
    # From the voice's fields, not a dump of them: a dump leaves out the licence's
    # proof_blob, and every listed licence then said has_proof: false.
    items = [
        ListedVoiceOut.model_validate(
            {**dict(VoiceOut.of(item.voice)), "usage_count": item.tenant_uses}
        )
        for item in page.items
    ]
    return VoicePageOut(items=items, next_cursor=page.next_cursor)


@router.get("/voices/{voice_id}")
async def get_voice(session: Session, caller: Caller, voice_id: str) -> VoiceOut:
    return VoiceOut.model_validate(await library.get_voice(session, caller, voice_id))


@router.post("/speak", responses=SPEAK_RESPONSES, response_class=Response)
async def speak(
    request: Request,
    session: Session,
    caller: Caller,
    body: SpeakRequest,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    timestamps: Annotated[
        bool,
        Query(description="Answer JSON: base64 audio plus estimated word times (inline only)."),
    ] = False,
) -> Response:
    """Audio inline for short text; a 202 job for long text, a ``webhook_url`` or
    ``mode: async``."""
    params = SpeakParams(
        body.text, body.voice_id, body.format, body.sample_rate, body.speed, body.backend
    )
    platform = platform_context(request)
    limits = platform.settings.limits
    save_to = SaveTo(**body.save_to.model_dump()) if body.save_to else None
    # A webhook is a job's: with auto, asking to be called back makes the request one.
    as_job = body.mode == "async" or (
        body.mode == "auto"
        and (len(body.text) > limits.inline_max_chars or body.webhook_url is not None)
    )
    if timestamps and (as_job or body.save_to):
        raise TimestampsUnavailable("Word timestamps come with inline speech without save_to.")
    if as_job:
        job, created = await submit_job(
            session,
            platform.db,
            speak_context(request),
            platform.settings,
            platform.limiter,
            caller,
            Submission(
                params,
                save_to,
                webhook_url=str(body.webhook_url) if body.webhook_url else None,
                idempotency_key=idempotency_key or None,  # an empty header is none
                body=body.model_dump(mode="json"),
            ),
        )
        return _job_accepted(job, replayed=not created)
    saver = None
    if save_to is not None:
        saver = _Saver(request, session, caller, await check_save_to(session, caller, save_to))
    response = await speak_inline(
        request,
        session,
        caller,
        params,
        "http",
        max_chars=limits.inline_max_chars,
        timestamps=timestamps,
        may_pass=saver is None,  # the share is written from the whole clip
        keep=saver.save if saver else None,
    )
    return response if saver is None else saver.answer(response)


def _job_accepted(job: SynthJob, *, replayed: bool) -> Response:
    location = f"/v1/modules/scaispeak/jobs/{job.id}"
    headers = {"Location": location, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return JSONResponse(job_out(job).model_dump(mode="json"), 202, headers=headers)


class _Saver:
    """``save_to`` on an inline request: the clip is staged in the share and lands there
    in the commit that charges it (a write that fails, e.g. a path taken meanwhile,
    costs nothing; a charge that fails leaves no file), and the answer is the file
    reference."""

    def __init__(
        self, request: Request, session: Session, caller: Principal, save_to: SaveTo
    ) -> None:
        self.request, self.session, self.caller, self.save_to = request, session, caller, save_to
        self.saved: drive.FileRef | None = None

    @asynccontextmanager
    async def save(self, clip: SpokenClip) -> AsyncIterator[None]:
        staged = drive.staged_write(
            self.session,
            platform_context(self.request).storage,
            self.caller,
            self.save_to.share_id,
            self.save_to.path,
            clip.data,
            clip.content_type,
            overwrite=self.save_to.overwrite,
            quota_bytes=platform_context(self.request).settings.limits.drive_tenant_max_bytes,
        )
        async with staged as saved:
            yield
        self.saved = saved

    def answer(self, audio: Response) -> Response:
        assert self.saved is not None
        headers = {k: v for k, v in audio.headers.items() if k.lower().startswith("x-scaispeak-")}
        # As the drive's own upload answers: 200 for a file replaced, 201 for a new one.
        code = 200 if self.saved.replaced else 201
        if code == 201:
            headers["Location"] = self.saved.url
        return JSONResponse(
            {"file": asdict(self.saved)}, code, headers=headers, background=audio.background
        )


async def speak_inline(
    request: Request,
    session: Session,
    caller: Caller,
    params: SpeakParams,
    transport: str,
    *,
    max_chars: int,
    timestamps: bool = False,
    may_pass: bool = True,
    keep: Keeper | None = None,
    streams: bool = False,
    events: bool = False,
) -> Response:
    """Shared by /speak and the OpenAI-compatible route: check, render, answer.

    ``may_pass``: the caller may get a relayed clip as it arrives (synthesis/passthrough.py);
    ``streams``: and speech of several segments as it is made (synthesis/streamed.py);
    ``events``: the audio framed as server-sent events (sse.py).
    """
    started = time.perf_counter()
    platform = platform_context(request)
    ctx = speak_context(request)
    # A caller who hangs up stops the work, unless it is to be kept (``save_to``).
    gone = asyncio.Event()
    watcher = asyncio.create_task(until_disconnected(request.receive, gone))
    try:
        result = await speak_clip(
            session,
            ctx,
            platform.settings,
            platform.limiter,
            caller,
            params,
            max_chars=max_chars,
            kind="speak",
            request_id=request.state.request_id,
            timestamps=timestamps,
            passing_to=platform.db.sessions if may_pass else None,
            keep=keep,
            streams=streams,
            abandoned=gone if keep is None else None,
        )
    finally:
        watcher.cancel()
    ctx.metrics.time_to_first_audio.labels(transport).observe(time.perf_counter() - started)
    if isinstance(result, PassingResult):
        return SpeechEvents(result, caller) if events else PassedAudio(result, caller)
    # Runs once the response is sent; the server awaits it before shutting down.
    after = BackgroundTask(
        record_delivery, platform.db.sessions, caller, result.voice.id, result.origin, result.clip
    )
    headers = usage_headers(result)
    if timestamps:
        return JSONResponse(timed_body(result), headers=headers, background=after)
    if events:
        return whole_clip_events(result, headers, after)
    return Response(
        result.clip.data, media_type=result.clip.content_type, headers=headers, background=after
    )


def timed_body(result: SpokenResult) -> dict[str, Any]:
    """``?timestamps=true``: the audio as base64 with its word times (seconds)."""
    clip = result.clip
    return {
        "audio_base64": base64.b64encode(clip.data).decode("ascii"),
        "content_type": clip.content_type,
        "sample_rate": clip.sample_rate,
        "duration_s": round(clip.duration_s, 3),
        "words": [w.as_dict() for w in clip.words],
        "estimated": clip.words_estimated,
    }


def usage_headers(result: SpokenResult) -> dict[str, str]:
    clip = result.clip
    return usage_of(result.voice.id, result.backend, result.cost_micros, clip.characters) | {
        "X-ScaiSpeak-Audio-Seconds": f"{clip.duration_s:.3f}",
        "X-ScaiSpeak-Sample-Rate": str(clip.sample_rate),
        "X-ScaiSpeak-Segments": str(clip.segments),
    }
