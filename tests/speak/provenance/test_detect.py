"""POST /detect over the real app: our clips are found and traced, but only for their
own tenant; clean audio is not; the tenant's policy decides for stock voices."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import numpy as np

from scaispeak.settings import AccountingSettings, ProvenanceSettings
from scaispeak.speak.engines.base import Engine
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.audio import encode
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem
from tests.speak.provenance.conftest import decoded, mp3_64k
from tests.support.members import new_member_of_tenant_a

MODULE = "/v1/modules/scaispeak"
PIPER = "voc_piper_en-us-joe-medium"
TEXT = "Provenance matters: every clip we make can be recognised again, even re-encoded."


async def speak(app: LiveApp, key: str, fmt: str = "mp3") -> Any:
    body = {"text": TEXT, "voice_id": PIPER, "format": fmt}
    response = await app.client.post(f"{MODULE}/speak", json=body, headers=app.auth(key))
    assert response.status_code == 200, response.text
    return response


async def detect(app: LiveApp, key: str, data: bytes, name: str = "clip.wav") -> Any:
    files = {"file": (name, data, "application/octet-stream")}
    return await app.client.post(f"{MODULE}/detect", files=files, headers=app.auth(key))


async def test_own_clip_is_traced_to_its_request_and_another_tenant_learns_only_that_it_is_ours(
    live: LiveApp,
) -> None:
    tenancy = live.tenancy
    spoken = await speak(live, tenancy.member_a)
    mine = (await detect(live, tenancy.member_a, spoken.content, "clip.mp3")).json()
    assert mine["watermarked"] is True and mine["confidence"] >= mine["threshold"]
    assert mine["origin"]["request_id"] == spoken.headers["X-Request-Id"]
    assert mine["origin"]["voice_id"] == PIPER and mine["origin"]["kind"] == "speak"
    assert mine["origin"]["watermarked"] is True
    theirs = (await detect(live, tenancy.member_b, spoken.content, "clip.mp3")).json()
    assert theirs["watermarked"] is True
    assert theirs["origin"] is None
    # Within the tenant: the admin finds who made it; another member does not.
    admins = (await detect(live, tenancy.admin_a, spoken.content, "clip.mp3")).json()
    assert admins["origin"]["request_id"] == spoken.headers["X-Request-Id"]
    assert admins["origin"]["user_id"] == tenancy.member_a_user
    _, colleague = await new_member_of_tenant_a(live)
    colleagues = (await detect(live, colleague, spoken.content, "clip.mp3")).json()
    assert colleagues["watermarked"] is True and colleagues["origin"] is None


async def test_a_re_encoded_copy_is_still_traced(sqlite_app: LiveApp) -> None:
    key = sqlite_app.tenancy.member_a
    spoken = await speak(sqlite_app, key, "wav")
    pcm, rate = mp3_64k(*decoded(spoken.content))
    copy = encode(pcm[: int(4 * rate)], rate, "wav")  # and only its first 4 s
    found = (await detect(sqlite_app, key, copy)).json()
    assert found["watermarked"] is True
    assert found["origin"]["request_id"] == spoken.headers["X-Request-Id"]


async def test_clean_engine_audio_is_neither_marked_nor_traced(
    sqlite_app: LiveApp, engines: EngineRegistry
) -> None:
    key = sqlite_app.tenancy.member_a
    await speak(sqlite_app, key)  # a record exists that it must not be confused with
    joe = engines.get("piper")
    assert isinstance(joe, Engine)
    clean = joe.synthesize(
        "Nothing in this sentence was ever spoken by the service.", "en_US-joe-medium"
    )
    found = (await detect(sqlite_app, key, encode(clean, joe.sample_rate, "wav"))).json()
    assert found["watermarked"] is False and found["confidence"] < found["threshold"]
    assert found["origin"] is None


async def test_a_tenant_can_leave_stock_voices_unmarked_but_only_an_admin_and_only_for_itself(
    sqlite_app: LiveApp,
) -> None:
    tenancy, policy = sqlite_app.tenancy, f"{MODULE}/provenance/policy"
    off = {"watermark_stock_voices": False}
    refused = await sqlite_app.client.put(
        policy, json=off, headers=sqlite_app.auth(tenancy.member_a)
    )
    assert_problem(refused, 403, "forbidden")
    saved = await sqlite_app.client.put(policy, json=off, headers=sqlite_app.auth(tenancy.admin_a))
    assert saved.json() == {"enabled": True, "watermark_stock_voices": False, "customised": True}
    unmarked = await speak(sqlite_app, tenancy.member_a, "wav")
    found = (await detect(sqlite_app, tenancy.member_a, unmarked.content)).json()
    assert found["watermarked"] is False
    assert found["origin"]["request_id"] == unmarked.headers["X-Request-Id"]  # still recorded
    assert found["origin"]["watermarked"] is False
    other = await speak(sqlite_app, tenancy.member_b, "wav")
    assert (await detect(sqlite_app, tenancy.member_b, other.content)).json()["watermarked"]


async def test_uploads_over_the_cap_or_not_audio_are_refused(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    settings = make_settings(tmp_path, provenance=ProvenanceSettings(detect_max_bytes=50_000))
    async with started_app(settings, engines) as app:
        key = app.tenancy.member_a
        big = io.BytesIO()
        with wave.open(big, "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(16_000)
            out.writeframes(np.zeros(40_000, np.int16).tobytes())
        too_large = await detect(app, key, big.getvalue())
        assert_problem(too_large, 413, "upload_too_large")
        assert too_large.json()["limit"] == 50_000
        assert_problem(await detect(app, key, b"not audio at all"), 422, "audio_unreadable")
        anonymous = await app.client.post(
            f"{MODULE}/detect", files={"file": ("a.wav", b"RIFF", "audio/wav")}
        )
        assert_problem(anonymous, 401, "unauthorized")


async def test_detect_and_preflight_count_against_the_tenants_requests_per_minute(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """They share the analysis pool with every tenant; one tenant must not fill it."""
    accounting = AccountingSettings(requests_per_minute_per_tenant=2)
    async with started_app(make_settings(tmp_path, accounting=accounting), engines) as app:
        member = app.tenancy.member_a
        assert (await detect(app, member, b"not audio")).status_code != 429
        preflight = await app.client.post(
            "/v1/modules/scaispeak/voices/preflight",
            files={"file": ("clip.wav", b"not audio")},
            headers=app.auth(member),
        )
        assert preflight.status_code != 429
        assert_problem(await detect(app, member, b"not audio"), 429, "rate_limited")
        assert (await detect(app, app.tenancy.member_b, b"not audio")).status_code != 429
