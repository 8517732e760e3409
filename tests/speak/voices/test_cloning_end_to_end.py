"""The real thing, end to end: intake, the style-search fit, and /speak in the cloned
voice. Slow (the fit alone has a 45 s budget), so outside the default run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import soundfile

from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings, started_app
from tests.speak.voices.conftest import PHRASE, VOICES, Clips, auth, unique
from tests.support.asr import transcribe, word_error_rate

pytestmark = pytest.mark.slow


async def test_cloned_voice_is_fitted_and_speaks_intelligibly(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    async with started_app(make_settings(tmp_path), engines) as live:
        runtime = live.app.state.voices
        assert runtime.builder.ctx.fitter is not None, "the real fitter is wired"
        runtime.phrases = lambda: PHRASE
        key = live.tenancy.member_a
        challenge = await live.client.post(
            f"{VOICES}/consent/challenge", json={"speaker_name": "Alex Morgan"}, headers=auth(key)
        )
        made = await live.client.post(
            f"{VOICES}/clone",
            headers=auth(key),
            data={"challenge_id": challenge.json()["id"], "name": unique("real clone")},
            files={
                "reference": ("r.wav", clips.wav(clips.reference), "audio/wav"),
                "consent_recording": ("c.wav", clips.wav(clips.genuine), "audio/wav"),
            },
        )
        assert made.status_code == 202, made.text
        voice_id = made.json()["id"]
        await runtime.builder.drain(timeout_s=600)
        voice = (await live.client.get(f"{VOICES}/{voice_id}", headers=auth(key))).json()
        assert voice["status"] == "ready", voice["status_reason"]
        text = "The harbour lights came on one by one as the evening fell."
        spoken = await live.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": text, "voice_id": voice_id},
            headers=auth(key),
        )
        assert spoken.status_code == 200, spoken.text
        pcm, rate = soundfile.read(io.BytesIO(spoken.content), dtype="float32")
        assert word_error_rate(text, transcribe(pcm, rate)) <= 0.2
