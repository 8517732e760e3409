"""A closed stream session lets go of its encoder at once, by reference counting: a
reference cycle through the sender's callbacks kept every session, and an Opus or MP3
encoder's two FFmpeg threads, alive until a rare full collection. A session that ended
normally is freed whole; one cancelled may wait for a collection (its cancelled task's
frames), without its encoder. (A session dropped mid-frame still holds its encoder until
a collection: not fixed yet.)

The last frame's encoding thread lets go of its bound method a moment after handing back
the result, so the encoder is waited for, briefly and still without a collection."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from scaispeak.speak.synthesis.audio import AudioFormat
from tests.speak.streaming.session_rig import SENTENCES, Rig, send


@pytest.fixture
def no_cycle_collection() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def freed_by_reference_counting(ref: weakref.ref[Any]) -> bool:
    """Whether ``ref``'s object goes within half a second while no collection runs: the
    executor's worker drops its reference to the work it ran just after the result."""
    for _ in range(50):
        if ref() is None:
            return True
        await asyncio.sleep(0.01)
    return False


@pytest.mark.parametrize("ending", ["end", "cancel"])
async def test_a_closed_session_and_its_encoder_are_freed_without_a_collection(
    rig: Rig, ending: str, no_cycle_collection: None
) -> None:
    session = rig.session(fmt=AudioFormat.opus)
    async with session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES if ending != "end" else "One line.")
        await rig.sink.wait_for(lambda: rig.sink.audio_bytes() > 0)
        encoder = weakref.ref(session._sender._encoder)  # type: ignore[arg-type]
        if ending == "cancel":
            await send(session, "cancel")
            await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
        if ending == "end":
            await send(session, "end")
            await session.wait_closed()
    assert await freed_by_reference_counting(encoder)  # its FFmpeg threads with it
    freed = weakref.ref(session)
    del session
    if ending == "end":
        assert freed() is None
