"""Every route records its clips: an async job and a WebSocket stream are marked and
traced by /detect to their job or stream id; /speak records, after answering, the
fingerprint of exactly the audio it delivered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.speak.provenance import fingerprint as fp
from scaispeak.speak.provenance.models import ProvenanceRecord
from scaispeak.speak.provenance.service import ClipOrigin
from scaispeak.speak.synthesis.audio import encode
from scaispeak.speak.synthesis.batch import record_delivery
from scaispeak.speak.voices.models import VoiceTenantUse
from tests.conftest import LiveApp
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.speak.provenance.test_detect import TEXT, detect
from tests.speak.streaming.conftest import PIPER, StreamServer
from tests.speak.voices.test_global_voices import licensed_voice
from tests.support.stream_client import StreamClient


async def test_a_job_is_marked_and_traced_to_the_job(sqlite_app: LiveApp) -> None:
    accepted = await submit(sqlite_app, format="mp3")
    done = await wait_for(sqlite_app, accepted.json()["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded", done
    key = sqlite_app.tenancy.member_a
    audio = await sqlite_app.client.get(done["audio_url"], headers=sqlite_app.auth(key))
    found = (await detect(sqlite_app, key, audio.content, "job.mp3")).json()
    assert found["watermarked"] is True
    assert found["origin"]["kind"] == "job" and found["origin"]["request_id"] == done["id"]


async def test_a_websocket_stream_is_marked_and_recorded(stream_server: StreamServer) -> None:
    text = "Streams are watermarked segment by segment, and recorded when they end."
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm", sample_rate=16000)
        await client.send("text", text=text)
        await client.send("end")
        started = (await client.event("started")).event
        await client.event("done")
    assert started is not None
    pcm = np.frombuffer(client.audio(), "<i2").astype(np.float32) / 32768
    app = stream_server.app
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        live = LiveApp(app, http, None)  # type: ignore[arg-type]
        upload = encode(pcm, 16000, "wav")
        # The record is written as the server closes the stream, just after ``done``
        # (fingerprinting off the loop first): allow for a loaded 2-core CI machine.
        for _ in range(200):
            found = (await detect(live, stream_server.key, upload)).json()
            if found["origin"] is not None:
                break
            await asyncio.sleep(0.1)
    assert found["watermarked"] is True
    assert found["origin"]["kind"] == "stream"
    assert found["origin"]["request_id"] == started["stream_id"]


async def test_speak_records_the_fingerprint_of_the_audio_it_delivered_after_answering(
    sqlite_app: LiveApp,
) -> None:
    key = sqlite_app.tenancy.member_a
    body = {"text": TEXT, "voice_id": PIPER, "format": "pcm", "sample_rate": 16000}
    spoken = await sqlite_app.client.post(
        "/v1/modules/scaispeak/speak", json=body, headers=sqlite_app.auth(key)
    )
    assert spoken.status_code == 200, spoken.text
    request_id = spoken.headers["X-Request-Id"]
    async with sqlite_app.app.state.platform.db.sessions() as session:
        stmt = select(ProvenanceRecord).where(ProvenanceRecord.request_id == request_id)
        record = (await session.execute(stmt)).scalar_one()
        uses = await session.get(VoiceTenantUse, (sqlite_app.tenancy.tenant_a, PIPER))
    delivered = np.frombuffer(spoken.content, "<i2").astype(np.float32) / 32768
    own = fp.match(fp.fingerprint(delivered, 16000), fp.from_bytes(record.fingerprint))
    assert own.matched and own.ber < 0.02 and own.offset_s == 0.0  # int16 rounding only
    assert record.watermarked is True and record.kind == "speak"
    assert record.duration_s == round(delivered.size / 16000, 3)
    assert uses is not None and uses.uses >= 1  # counted in the same late commit


@dataclass
class _Delivered:
    duration_s: float = 1.0
    watermarked: bool = True

    def fingerprint(self) -> bytes:
        return b"\x00" * 16


async def test_a_clip_whose_voice_is_deleted_before_it_is_recorded_keeps_its_record(
    sqlite_app: LiveApp,
) -> None:
    """The record is written after the response, with the voice's use count: a voice
    deleted in between failed the count's row, and the rollback took the record (the
    clip could no longer be traced)."""
    root = sqlite_app.auth(sqlite_app.tenancy.superadmin)
    voice = await sqlite_app.client.post(
        "/v1/modules/scaispeak/voices/global", json=licensed_voice(), headers=root
    )
    voice_id = voice.json()["id"]
    deleted = await sqlite_app.client.delete(
        f"/v1/modules/scaispeak/voices/{voice_id}", headers=root
    )
    assert deleted.status_code == 204
    t = sqlite_app.tenancy
    caller = Principal(t.member_a_user, t.tenant_a, Role.member)
    origin = ClipOrigin(t.tenant_a, t.member_a_user, "req_gone_voice", "speak", voice_id)
    sessions = sqlite_app.app.state.platform.db.sessions
    await record_delivery(sessions, caller, voice_id, origin, _Delivered())
    async with sessions() as session:
        rows = await session.scalars(
            select(ProvenanceRecord).where(ProvenanceRecord.request_id == "req_gone_voice")
        )
        assert len(list(rows)) == 1
