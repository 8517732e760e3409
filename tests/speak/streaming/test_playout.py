"""The playout buffer behind the WebRTC track: paced by the clock, bounded, and cut at once."""

from __future__ import annotations

import asyncio

import pytest

from scaispeak.speak.streaming.playout import Playout
from scaispeak.speak.streaming.sink import SinkClosed

RATE = 1000  # 20 samples per 20 ms packet keeps the arithmetic readable
PACKET = 20 * 2  # bytes


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def speech(ms: int, value: int = 1) -> bytes:
    return value.to_bytes(2, "little", signed=True) * (RATE * ms // 1000)


async def test_packets_are_timestamped_in_samples_and_padded_with_silence() -> None:
    playout = Playout(RATE, lead_ms=100, clock=FakeClock())
    await playout.put(speech(30))
    first, second, third = [await playout.next_packet() for _ in range(3)]
    assert [pts for pts, _ in (first, second, third)] == [0, 20, 40]
    assert first[1] == speech(20)
    assert second[1] == speech(10) + bytes(20)  # the speech ran out mid-packet
    assert third[1] == bytes(PACKET)
    assert playout.played_samples == 30


async def test_a_packet_waits_until_it_is_due() -> None:
    clock = FakeClock()
    playout = Playout(RATE, clock=clock)
    await playout.next_packet()  # starts the clock
    clock.now += 0.005  # 15 ms early for the next one
    waited = asyncio.get_running_loop().time()
    await playout.next_packet()
    assert asyncio.get_running_loop().time() - waited == pytest.approx(0.015, abs=0.01)


async def test_a_writer_waits_while_more_than_the_lead_is_queued() -> None:
    playout = Playout(RATE, lead_ms=40, clock=FakeClock())
    await playout.put(speech(60))  # over the lead: the next put must wait
    blocked = asyncio.create_task(playout.put(speech(20)))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    await playout.next_packet()  # 40 ms left: within the lead
    await asyncio.wait_for(blocked, 1)
    assert playout.queued_seconds == pytest.approx(0.06)


async def test_silenced_drops_queued_speech_and_holds_writers_until_it_ends() -> None:
    playout = Playout(RATE, lead_ms=40, clock=FakeClock())
    await playout.put(speech(60))
    with playout.silenced():
        assert (await playout.next_packet())[1] == bytes(PACKET)
        held = asyncio.create_task(playout.put(speech(20)))
        await asyncio.sleep(0.01)
        assert not held.done()  # speech of the interrupted utterance must not slip in
    await asyncio.wait_for(held, 1)
    assert playout.queued_seconds == pytest.approx(0.02)


async def test_closing_releases_a_waiting_writer_with_sink_closed() -> None:
    playout = Playout(RATE, lead_ms=20, clock=FakeClock())
    await playout.put(speech(60))
    waiting = asyncio.create_task(playout.put(speech(20)))
    await asyncio.sleep(0.01)
    playout.close()
    with pytest.raises(SinkClosed):
        await waiting
    await asyncio.wait_for(playout.drained(), 1)
