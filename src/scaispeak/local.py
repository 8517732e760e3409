"""What the CLI's ``say`` and ``voices`` do: in this process, or against a server."""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx

from scaispeak.settings import Settings


async def say_in_process(settings: Settings, text: str, voice_ref: str, fmt: str) -> bytes:
    """Synthesize with the engines loaded here; no database, no server."""
    from prometheus_client import CollectorRegistry

    from scaispeak.speak.engines.registry import build_engines
    from scaispeak.speak.metrics import SpeakMetrics
    from scaispeak.speak.synthesis.inference import inference_pool
    from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
    from scaispeak.speak.synthesis.service import (
        check_speakable,
        check_text,
        choose_sample_rate,
        parse_format,
    )
    from scaispeak.speak.synthesis.speech import SpeechSpec

    engines = build_engines(settings)
    engine_name, engine_voice = _resolve_stock_voice(settings, voice_ref)
    check_text(text, settings.limits.inline_max_chars)
    check_speakable(text)
    audio_format = parse_format(fmt)
    rate = choose_sample_rate(
        audio_format, None, engines.get(engine_name).sample_rate, settings.limits
    )
    # Stock voices only here: marked as the deployment marks them for tenants by default.
    marked = settings.provenance.watermark and settings.provenance.watermark_stock_voices
    pool = inference_pool(settings.engines)
    pipeline = SynthesisPipeline(engines, pool, settings.engines, SpeakMetrics(CollectorRegistry()))
    try:
        clip = await pipeline.render(
            SpeechSpec(text, engine_name, engine_voice, audio_format, rate, watermark=marked)
        )
    finally:
        pool.shutdown()
    return clip.data


def voices_in_process(settings: Settings) -> list[dict[str, Any]]:
    from scaispeak.speak.engines.registry import build_engines
    from scaispeak.speak.voices.library import global_voice_id

    return [
        {"id": global_voice_id(engine, v.key), "language": v.language, "name": v.name}
        for engine, v in build_engines(settings).offered_voices()
    ]


def _resolve_stock_voice(settings: Settings, ref: str) -> tuple[str, str]:
    from scaispeak.speak.engines.registry import build_engines
    from scaispeak.speak.errors import UnknownVoice
    from scaispeak.speak.voices.library import OPENAI_VOICE_ALIASES, global_voice_id

    ref = OPENAI_VOICE_ALIASES.get(ref.lower(), ref)
    for engine, voice in build_engines(settings).offered_voices():
        if ref in (global_voice_id(engine, voice.key), voice.key):
            return engine, voice.key
    raise UnknownVoice(f"No stock voice {ref!r}; in-process `say` speaks stock voices only.")


JOB_POLL_S = 1.0
"""How often ``say --server`` asks about a long text's job."""


def say_remote(server: str, api_key: str, text: str, voice: str, fmt: str) -> bytes:
    """The audio of ``text``: inline, or, for a text too long for that (202), from the
    job the server queued, waited for and downloaded."""
    with httpx.Client(
        base_url=server.rstrip("/"),
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=300,
    ) as client:
        response = client.post(
            "/v1/modules/scaispeak/speak", json={"text": text, "voice_id": voice, "format": fmt}
        )
        _raise_for_problem(response)
        if response.status_code != 202:
            return response.content
        return _audio_of_job(client, response.headers["Location"])


def _audio_of_job(client: httpx.Client, job_url: str) -> bytes:
    # Said once: with no worker running, the job would wait here without a word.
    print(f"long text: waiting for job {job_url.rsplit('/', 1)[-1]}", file=sys.stderr)
    while True:
        response = client.get(job_url)
        _raise_for_problem(response)
        job = response.json()
        if job["state"] == "succeeded":
            break
        if job["state"] in ("failed", "cancelled"):
            raise SystemExit(f"job {job['id']} {job['state']}: {job['error']}")
        time.sleep(JOB_POLL_S)
    audio = client.get(job["audio_url"])
    _raise_for_problem(audio)
    return audio.content


def voices_remote(server: str, api_key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = httpx.get(
            f"{server.rstrip('/')}/v1/modules/scaispeak/voices",
            params=params,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
        _raise_for_problem(response)
        page = response.json()
        rows.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def _raise_for_problem(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        problem = response.json()
        message = f"{problem.get('code')}: {problem.get('detail')}"
    except ValueError:
        message = response.text
    raise SystemExit(f"server answered {response.status_code}: {message}")
