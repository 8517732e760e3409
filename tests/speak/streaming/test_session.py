"""StreamSession against an in-memory sink and a stand-in engine whose calls can be held."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings, StreamingSettings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import VoiceUnavailable
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.streaming.protocol import StartMessage, error_event
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.synthesis.audio import AudioFormat, StreamEncoder
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec
from tests.speak.streaming.session_rig import (
    RATE,
    SENTENCES,
    HeldEngine,
    MemorySink,
    Rig,
    send,
)


async def test_first_clause_is_spoken_before_the_text_ends(rig: Rig) -> None:
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        for token in ["Well", ", here", " is the", " first clause", ", and then mo"]:
            await send(session, "text", text=token)
        await rig.sink.wait_for(rig.sink.audio_bytes)
    assert rig.sink.events("segment")[0]["text"] == "Well, here is the first clause,"


@pytest.mark.parametrize(("fmt", "lead_in"), [(AudioFormat.pcm, 0), (AudioFormat.mp3, 1105)])
async def test_segment_times_count_the_silence_the_decoder_plays_first(
    rig: Rig, fmt: AudioFormat, lead_in: int
) -> None:
    # A decoder of bare MP3 frames plays LAME's priming before our first sample, so
    # every segment and word is heard that much later than the audio we fed it.
    async with rig.session(fmt=fmt) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="The first sentence is here. The second one follows.")
        await send(session, "end")
        await rig.sink.wait_for(lambda: len(rig.sink.events("segment")) == 2)
    first, second = rig.sink.events("segment")
    assert first["start"] == round(lead_in / RATE, 3)
    assert second["start"] == round(lead_in / RATE + first["audio_seconds"], 3)
    assert first["words"][0]["start"] >= first["start"]


async def test_cancel_discards_the_running_engine_call_and_sends_nothing_after(rig: Rig) -> None:
    rig.engine.hold_from = 1  # the second segment stays inside the "engine"

    def first_segment_delivered() -> bool:
        segments = rig.sink.events("segment")
        return bool(segments) and rig.sink.audio_bytes() == 2 * round(
            segments[0]["audio_seconds"] * RATE
        )

    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(lambda: rig.pool.running == 1 and first_segment_delivered())
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
        at = len(rig.sink.sent)
        rig.engine.gate.set()
        await rig.sink.wait_for(lambda: rig.pool.pending == 0)
        await asyncio.sleep(0.05)
        assert not any(isinstance(m, bytes) for m in rig.sink.sent[at:])
        cancelled = rig.sink.events("cancelled")[0]
        assert cancelled["audio_seconds"] == rig.sink.audio_bytes() / 2 / RATE
        assert cancelled["characters"] == len("Sentence number 1 is right here.")
        assert len(rig.engine.calls) == 2  # nothing after the cancel reached the engine


async def test_cancel_withdraws_queued_engine_work(rig: Rig) -> None:
    busy = threading.Event()
    blockers = [asyncio.create_task(rig.pool.run(busy.wait, 10)) for _ in range(2)]
    await rig.sink.wait_for(lambda: rig.pool.running == 2)  # both threads taken
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(lambda: rig.pool.queued == 1)
        await send(session, "cancel")
        assert rig.pool.queued == 0
    busy.set()
    await asyncio.gather(*blockers)
    assert rig.engine.calls == []


async def test_slow_reader_pauses_synthesis_instead_of_buffering(rig: Rig) -> None:
    rig.sink.gate.clear()
    # Sent as fast as it is read (not paced): the 40 s of audio is about backpressure.
    paced = {"send_ahead_seconds": 600.0}
    async with rig.session(max_buffered_audio_seconds=1.0, frame_ms=100, **paced) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await send(session, "end")
        await asyncio.sleep(0.3)
        assert len(rig.engine.calls) <= 2  # 20 sentences wait; about 1 s of audio is queued
        assert session.buffered_frames <= 10
        rig.sink.gate.set()
        assert await asyncio.wait_for(session.wait_closed(), 10) == 1000
    assert len(rig.engine.calls) == 20
    assert rig.sink.events("done")[0]["usage"]["segments"] == 20


async def test_closing_mid_stream_leaves_no_task_or_queued_work(rig: Rig) -> None:
    rig.engine.hold_from = 0
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(lambda: rig.pool.running == 1)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("str_t")] == []
    assert rig.pool.queued == 0
    rig.engine.gate.set()
    await rig.sink.wait_for(lambda: rig.pool.running == 0)
    assert session.usage.characters == 0 and rig.sink.audio_bytes() == 0


async def test_text_that_waits_too_long_is_spoken_up_to_its_last_whole_word(rig: Rig) -> None:
    async with rig.session(max_wait_ms=50) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="one two thre")
        await rig.sink.wait_for(lambda: rig.sink.events("segment"))
    assert rig.sink.events("segment")[0]["text"] == "one two"


async def test_an_answer_ending_in_a_figure_is_spoken_once_it_has_waited_twice(
    rig: Rig,
) -> None:
    """The wait keeps "1999." back a first time ("$182." may go on with "52"), the
    whole sentence with it; with nothing more sent (no flush), it sat there until the
    stream ended."""
    async with rig.session(max_wait_ms=50) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="The year was 1999.")
        await rig.sink.wait_for(lambda: rig.sink.events("segment"))
    assert [e["text"] for e in rig.sink.events("segment")] == ["The year was 1999."]


async def test_words_that_can_never_be_cut_do_not_keep_the_wait_timer_firing(rig: Rig) -> None:
    """The timer was set again after every wait while text stayed buffered: at
    max_wait_ms=0, a lone "OK" made it fire 115,000 times a second (helper-102)."""
    async with rig.session(max_wait_ms=0) as session:
        waits = 0
        on_waited = session._on_waited

        def counted() -> None:
            nonlocal waits
            waits += 1
            on_waited()

        session._on_waited = counted  # type: ignore[method-assign]
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="OK")
        await asyncio.sleep(0.3)
    assert waits <= 2


async def test_waiting_words_are_held_while_the_listener_still_hears_earlier_audio(
    rig: Rig,
) -> None:
    """The wait timer cut sentences mid-phrase while seconds of audio still played,
    which gained nothing and changed the reading ("the 2024 | Q3", a link's URL)."""
    async with rig.session(max_wait_ms=50) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="One two three four five six seven eight nine.")
        await rig.sink.wait_for(lambda: rig.sink.audio_bytes() > 0)  # 2.2 s of audio
        await send(session, "text", text=" And then thre")
        await asyncio.sleep(0.5)
        assert len(rig.sink.events("segment")) == 1  # still heard: more text may come
        await rig.sink.wait_for(lambda: len(rig.sink.events("segment")) == 2)
    assert rig.sink.events("segment")[1]["text"] == "And then"


async def test_an_idle_stream_is_closed_with_idle_timeout(rig: Rig) -> None:
    async with rig.session(idle_timeout_seconds=0.05) as session:
        await send(session, "start", voice_id="voc_held")
        assert await asyncio.wait_for(session.wait_closed(), 5) == 4408
    error = rig.sink.events("error")[0]
    assert (error["code"], error["fatal"]) == ("idle_timeout", True)


async def test_an_engine_failure_ends_the_stream_with_synthesis_failed(rig: Rig) -> None:
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="This goes boom.")
        await send(session, "end")
        assert await asyncio.wait_for(session.wait_closed(), 5) == 4500
    assert rig.sink.events("error")[0]["code"] == "synthesis_failed"


async def test_cancel_after_end_still_finishes_the_stream(rig: Rig) -> None:
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await send(session, "end")
        await send(session, "cancel")
        assert await asyncio.wait_for(session.wait_closed(), 5) == 1000
    kinds = [e["type"] for e in rig.sink.events() if e["type"] != "segment"]
    assert kinds == ["started", "cancelled", "done"]


async def test_end_before_start_finishes_with_no_usage(rig: Rig) -> None:
    async with rig.session() as session:
        await send(session, "end")
        assert await asyncio.wait_for(session.wait_closed(), 5) == 1000
    assert rig.sink.events("done")[0]["usage"] == {
        "characters": 0,
        "audio_seconds": 0.0,
        "segments": 0,
    }


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        pytest.param([{"type": "flush"}], "not_started", id="flush_before_start"),
        pytest.param([{"type": "cancel"}], "not_started", id="cancel_before_start"),
        pytest.param([{"type": "start", "voice_id": "v"}] * 2, "already_started", id="twice"),
        pytest.param(
            [{"type": "start", "voice_id": "v"}, {"type": "end"}, {"type": "text", "text": "x"}],
            "stream_ending",
            id="text_after_end",
        ),
        pytest.param(
            [{"type": "start", "voice_id": "v"}, {"type": "text", "text": "x" * 11}],
            "text_too_long",
            id="over_the_stream_text_limit",
        ),
        pytest.param(["[1, 2]"], "invalid_message", id="not_an_object"),
        pytest.param([b"\x00\x01"], "invalid_message", id="binary_message"),
        pytest.param([{"type": "text", "text": 5}], "invalid_message", id="mistyped_field"),
        pytest.param([{"type": "end", "extra": 1}], "invalid_message", id="unknown_field"),
    ],
)
async def test_protocol_mistakes_become_error_events(
    rig: Rig, messages: list[dict[str, Any] | str | bytes], code: str
) -> None:
    async with rig.session(max_text_chars=10) as session:
        for message in messages:
            raw = message if isinstance(message, str | bytes) else json.dumps(message)
            await session.receive(raw)
        await rig.sink.wait_for(lambda: rig.sink.events("error"))
    error = rig.sink.events("error")[0]
    assert (error["code"], error["fatal"]) == (code, False)


class MarkedUpstream(HeldEngine):
    """Audio that arrives marked already (a relay to a ScaiSpeak that marks)."""

    marks_output = True


class CountingMarker:
    def __init__(self) -> None:
        self.embedded = 0

    def embed(self, pcm: Pcm, rate: int) -> Pcm:
        self.embedded += 1
        return pcm


@pytest.mark.parametrize("engine", [HeldEngine(), MarkedUpstream()], ids=["ours", "marked"])
async def test_a_stream_marks_unless_its_engine_delivers_marked_audio(engine: HeldEngine) -> None:
    marker, sink, pool = CountingMarker(), MemorySink(), InferencePool(1)
    metrics = SpeakMetrics(CollectorRegistry())
    pipeline = SynthesisPipeline(
        EngineRegistry([engine]),
        pool,
        EngineSettings(),
        metrics,
        watermarker=marker,  # type: ignore[arg-type]
    )
    spec = StreamSpec("voc_held", "held", "tone", AudioFormat.pcm, RATE, watermark=True)

    async def open_stream(start: StartMessage) -> StreamSpec:
        return spec

    session = StreamSession(
        sink, pipeline, StreamingSettings(), open_stream, stream_id="str_m", transport="test"
    )
    try:
        async with session:
            await send(session, "start", voice_id="voc_held")
            await send(session, "text", text="First sentence here. Second one too.")
            await send(session, "end")
            assert await asyncio.wait_for(session.wait_closed(), 10) == 1000
    finally:
        pool.shutdown()
    assert (marker.embedded == 0) is isinstance(engine, MarkedUpstream)
    assert session.produced is not None and session.produced.watermarked  # recorded as marked


def test_an_error_that_says_when_to_come_back_says_it_on_a_stream_too() -> None:
    """HTTP callers get ``Retry-After`` for a voice still being built; a stream's
    ``error`` event carries the same wait as ``retry_after``."""
    building = VoiceUnavailable("Voice voc_x is processing: building the voice")
    building.come_back_in(5)
    assert building.headers["Retry-After"] == "5"
    assert error_event(building, fatal=False)["retry_after"] == 5
    assert "retry_after" not in error_event(VoiceUnavailable("failed"), fatal=False)


async def test_a_cancel_forgets_a_half_character_so_the_next_reply_is_spoken(rig: Rig) -> None:
    """An LLM's reply cut inside an emoji leaves its first UTF-16 half waiting; the
    user barges in. Joined to the next reply's first piece, it had that piece refused
    (``invalid_text``) and left unsaid."""
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="Here is a smiley for you: \ud83d")
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
        await send(session, "text", text="Sure, what would you like to know? ")
        await send(session, "flush")
        await rig.sink.wait_for(lambda: rig.sink.events("segment"))
    assert not rig.sink.events("error")
    assert rig.sink.events("segment")[0]["text"] == "Sure, what would you like to know?"


async def test_audio_is_sent_at_the_pace_it_is_heard_so_a_barge_in_bills_little(rig: Rig) -> None:
    """Sent as fast as it was made, a cancel 1.5 s into a long answer billed 14 s that
    nobody heard; now at most ``send_ahead_seconds`` leave ahead of the listener."""
    async with rig.session(send_ahead_seconds=0.5) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)  # 40 s of audio
        await rig.sink.wait_for(rig.sink.audio_bytes)
        await asyncio.sleep(1.0)
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
    billed = rig.sink.events("cancelled")[0]["audio_seconds"]
    assert 1.0 <= billed <= 2.0, billed  # heard (1 s) + the lead (0.5 s) + a frame or so


async def test_a_stream_still_being_heard_is_not_idle(rig: Rig) -> None:
    """The idle timeout closed a stream whose listener was still playing its answer."""
    async with rig.session(send_ahead_seconds=3.0, idle_timeout_seconds=0.5) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="A reply of fifty characters or so, spoken now.")
        await send(session, "flush")  # 2.4 s of audio, all of it sent within the lead
        await rig.sink.wait_for(lambda: rig.sink.events("segment"))
        await asyncio.sleep(1.5)
        assert not session.closed, "closed while the listener was still hearing it"
        assert await asyncio.wait_for(session.wait_closed(), 5) == 4408


async def test_a_sender_that_fails_tells_the_client_before_closing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It closed with 1011 and no event, where the protocol promises internal_error."""

    def broken(self: StreamEncoder, pcm: Any) -> bytes:
        raise RuntimeError("the codec library failed")

    monkeypatch.setattr(StreamEncoder, "encode", broken)
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text="Say something, please.")
        await send(session, "flush")
        assert await asyncio.wait_for(session.wait_closed(), 5) == 4500
    error = rig.sink.events("error")[0]
    assert (error["code"], error["fatal"]) == ("internal_error", True)


async def test_a_cancel_does_not_wait_out_the_pacing(rig: Rig) -> None:
    """The sender sleeps until a frame is due; the cancel's event waited behind that
    sleep (up to a frame: 0.7 s at 1 s frames, measured)."""
    async with rig.session(send_ahead_seconds=0.2, frame_ms=1000) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        await rig.sink.wait_for(rig.sink.audio_bytes)
        await asyncio.sleep(1.2)  # mid-frame: the next one is not due yet
        cancelled_at = asyncio.get_running_loop().time()
        await send(session, "cancel")
        await rig.sink.wait_for(lambda: rig.sink.events("cancelled"))
        waited = asyncio.get_running_loop().time() - cancelled_at
    assert waited < 0.3, waited
