"""A cancel pushes out what a lossy stream encoder still holds before the ``cancelled``
event: that audio (the cut speech's last 110-350 ms) came out with the next reply."""

from __future__ import annotations

import asyncio
import io

import av
import numpy as np
import pytest

from scaispeak.speak.synthesis.audio import AudioFormat
from tests.speak.streaming.session_rig import SENTENCES, Rig, send


def decoded(data: bytes, fmt: AudioFormat) -> np.ndarray:
    container = "ogg" if fmt is AudioFormat.opus else "mp3"
    with av.open(io.BytesIO(data), format=container) as box:
        frames = [f.to_ndarray().reshape(-1) for f in box.decode(audio=0)]
    return np.concatenate(frames).astype(np.float32) / (1 if frames[0].dtype.kind == "f" else 32768)


@pytest.mark.parametrize("fmt", [AudioFormat.mp3, AudioFormat.opus])
async def test_no_audio_of_the_cut_speech_follows_the_cancelled_event(
    rig: Rig, fmt: AudioFormat
) -> None:
    async with rig.session(fmt=fmt) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(lambda: rig.sink.audio_bytes() > 2_000)
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
        await send(session, "end")  # the encoder's end: all it still holds comes out
        assert await asyncio.wait_for(session.wait_closed(), 10) == 1000
    cut = next(
        i for i, m in enumerate(rig.sink.sent) if isinstance(m, dict) and m["type"] == "cancelled"
    )
    before = b"".join(m for m in rig.sink.sent[:cut] if isinstance(m, bytes))
    whole = b"".join(m for m in rig.sink.sent if isinstance(m, bytes))
    heard_before, heard = decoded(before, fmt), decoded(whole, fmt)
    assert np.max(np.abs(heard_before)) > 0.1  # the tone was playing
    after = heard[heard_before.size :]
    assert after.size and np.max(np.abs(after)) < 0.02, np.max(np.abs(after))


@pytest.mark.parametrize("fmt", [AudioFormat.mp3, AudioFormat.opus])
async def test_cancels_with_nothing_spoken_since_the_last_push_send_no_silence(
    rig: Rig, fmt: AudioFormat
) -> None:
    """Each cancel pushed out 250 ms of encoded silence, fed or not: 500 cancels sent
    1 MB of mp3 (helper-83)."""
    async with rig.session(fmt=fmt) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(lambda: rig.sink.audio_bytes() > 2_000)
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: len(rig.sink.events("cancelled")) == 1)
        after_first = rig.sink.audio_bytes()
        for count in range(2, 12):
            await send(session, "cancel")
            await rig.sink.wait_for(lambda n=count: len(rig.sink.events("cancelled")) == n)
        assert rig.sink.audio_bytes() == after_first
