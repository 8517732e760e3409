"""Speakers made from the stock voices, and apps whose voice builds are fast and visible.

- the reference speaker is Piper's joe; a genuine consent is joe reading the statement;
  an impostor is Kokoro's kumo reading the same statement; a wrong statement is joe
  reading a statement with another one-time phrase.
- ``voice_app`` is the real app with two seams filled in: a fake fitter (a real fit
  takes a minute) and a stand-in ``clone`` engine that loads the embedding through
  the app's real loader and speaks with joe. Challenges draw a fixed phrase, so the
  session's clips match every challenge.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from scaispeak.app import create_app
from scaispeak.settings import Settings
from scaispeak.speak.engines.base import Engine, EngineVoice, Pcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.audio import encode
from scaispeak.speak.voices.statement import compose_statement
from tests.conftest import LiveApp, build_tenancy, make_settings

VOICES = "/v1/modules/scaispeak/voices"
SPEAKER = "Alex Morgan"
PHRASE = "amber river lantern seven"
OTHER_PHRASE = "copper tiger wizard olive"
JOE = "en_US-joe-medium"
REFERENCE_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening. He watched the ships "
    "pass in the distance and wrote their names in a small notebook."
)


def statement(phrase: str = PHRASE) -> str:
    return compose_statement(SPEAKER, "ScaiSpeak", phrase)


@dataclass(frozen=True)
class Clips:
    """Joe's clips (Piper is fast: a fraction of a second each)."""

    rate: int
    reference: Pcm
    genuine: Pcm
    wrong_statement: Pcm

    def wav(self, pcm: Pcm, rate: int | None = None) -> bytes:
        return encode(pcm, rate or self.rate, "wav")


@pytest.fixture(scope="session")
def clips(engines: EngineRegistry) -> Clips:
    joe = engines.get("piper")
    assert isinstance(joe, Engine)
    return Clips(
        rate=joe.sample_rate,
        reference=joe.synthesize(REFERENCE_TEXT, JOE),
        genuine=joe.synthesize(statement(), JOE),
        wrong_statement=joe.synthesize(statement(OTHER_PHRASE), JOE),
    )


@dataclass(frozen=True)
class Impostor:
    """Kokoro's kumo reading the same statement: another speaker (seconds to make)."""

    pcm: Pcm
    rate: int

    def wav(self) -> bytes:
        return encode(self.pcm, self.rate, "wav")


@pytest.fixture(scope="session")
def impostor(engines: EngineRegistry) -> Impostor:
    kumo = engines.get("kokoro")
    assert isinstance(kumo, Engine)
    return Impostor(kumo.synthesize(statement(), "jm_kumo"), kumo.sample_rate)


@dataclass
class FakeFitter:
    """Records what it was asked to fit; fails on demand."""

    version: str = "test-fitter-1"
    fail_with: str | None = None
    fitted: list[float] = field(default_factory=list)
    gate: threading.Event | None = None

    answers_to: dict[bytes, str] = field(default_factory=dict)
    """Embeddings (by content) this fitter reads as made under a version of its choice."""

    def version_of(self, blob: bytes) -> str | None:
        return self.answers_to.get(blob)

    def fit(self, pcm: Pcm, rate: int) -> bytes:
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail_with:
            raise RuntimeError(self.fail_with)
        self.fitted.append(pcm.size / rate)
        return b"embedding:" + hashlib.sha256(pcm.tobytes()).hexdigest().encode()


class StandInCloneEngine:
    """Speaks as joe, but only after loading the voice's embedding like the real engine."""

    name = "clone"

    def __init__(self, base: Engine) -> None:
        self.base = base
        self.sample_rate = base.sample_rate
        self.loader: Callable[[str], bytes] | None = None
        self.cache: dict[str, bytes] = {}

    def voices(self) -> list[EngineVoice]:
        return []

    def warm(self) -> None:
        pass

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        if voice not in self.cache:
            assert self.loader is not None
            self.cache[voice] = self.loader(voice)
        assert self.cache[voice].startswith(b"embedding:")
        return self.base.synthesize(text, JOE, speed=speed)

    def forget(self, voice_id: str) -> None:
        self.cache.pop(voice_id, None)

    def preload(self, voice_id: str) -> None:
        assert self.loader is not None
        self.cache[voice_id] = self.loader(voice_id)


@dataclass
class VoiceApp(LiveApp):
    fitter: FakeFitter = field(default_factory=FakeFitter)
    engine: Any = None

    @property
    def runtime(self) -> Any:
        return self.app.state.voices

    @property
    def storage(self) -> Any:
        return self.app.state.platform.storage


@asynccontextmanager
async def voice_app_for(
    settings: Settings, engines: EngineRegistry, fitter: FakeFitter | None = None
) -> AsyncIterator[VoiceApp]:
    base = engines.get("piper")
    assert isinstance(base, Engine)
    stand_in = StandInCloneEngine(base)
    app = create_app(settings, engines=engines.extended(stand_in))
    fitter = fitter or FakeFitter()
    runtime = app.state.voices
    runtime.builder.ctx.fitter = fitter
    runtime.cache = stand_in
    runtime.phrases = lambda: PHRASE
    stand_in.loader = runtime.loader
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tenancy = await build_tenancy(client, app)
            yield VoiceApp(app, client, tenancy, fitter, stand_in)


@pytest.fixture
async def voice_app(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> AsyncIterator[VoiceApp]:
    """On SQLite and PostgreSQL."""
    settings = make_settings(tmp_path, database_url)
    async with voice_app_for(settings, engines) as live_app:
        yield live_app


@pytest.fixture
async def sqlite_voice_app(tmp_path: Path, engines: EngineRegistry) -> AsyncIterator[VoiceApp]:
    async with voice_app_for(make_settings(tmp_path), engines) as live_app:
        yield live_app


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def silence(seconds: float, rate: int) -> Pcm:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def issue_challenge(app: VoiceApp, key: str) -> dict[str, Any]:
    response = await app.client.post(
        f"{VOICES}/consent/challenge", json={"speaker_name": SPEAKER}, headers=auth(key)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_clone(
    app: VoiceApp,
    key: str,
    reference: bytes,
    consent: bytes,
    *,
    challenge_id: str | None = None,
    scope: str = "user",
) -> httpx.Response:
    if challenge_id is None:
        challenge_id = (await issue_challenge(app, key))["id"]
    return await app.client.post(
        f"{VOICES}/clone",
        headers=auth(key),
        data={"challenge_id": challenge_id, "name": unique("clone"), "scope": scope},
        files={
            "reference": ("reference.wav", reference, "audio/wav"),
            "consent_recording": ("consent.wav", consent, "audio/wav"),
        },
    )


async def plant_voice(
    app: VoiceApp,
    clips: Clips,
    *,
    tenant_id: str,
    owner: str | None,
    scope: str,
    built: bool = True,
) -> str:
    """A cloned voice with stored reference and active consent, as intake leaves it,
    without the seconds of recognition and verification (those have their own tests);
    ``built``: returns once the builder has built it (else it is left waiting)."""
    from scaispeak.platform.db import new_id
    from scaispeak.speak.voices import blobs
    from scaispeak.speak.voices.models import (
        Consent,
        ConsentKind,
        ConsentState,
        Voice,
        VoiceScope,
        VoiceStatus,
    )

    voice_id = new_id("voc")
    await app.storage.put_bytes(blobs.reference_key(voice_id), clips.wav(clips.reference))
    async with app.app.state.platform.db.sessions() as session:
        session.add(
            Voice(
                id=voice_id,
                scope=VoiceScope(scope),
                tenant_id=tenant_id,
                owner_user_id=owner,
                name=unique("planted"),
                language="en-US",
                tags=["cloned"],
                engine="clone",
                engine_voice=voice_id,
                status=VoiceStatus.processing,
                reference_blob=blobs.reference_key(voice_id),
            )
        )
        session.add(
            Consent(
                voice_id=voice_id,
                tenant_id=tenant_id,
                kind=ConsentKind.recording,
                state=ConsentState.active,
                speaker_name=SPEAKER,
                created_by=owner or "test",
            )
        )
        await session.commit()
    if built:
        await app.runtime.builder.drain()
    return voice_id


async def user_id_of(app: VoiceApp, key: str) -> str:
    me = await app.client.get("/v1/auth/me", headers=auth(key))
    assert me.status_code == 200, me.text
    return str(me.json()["user_id"])
