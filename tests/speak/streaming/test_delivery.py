"""The billing rule and the listener's clock, without any audio."""

from __future__ import annotations

import pytest

from scaispeak.speak.streaming.delivery import Delivery
from scaispeak.speak.streaming.outbox import SegmentTicket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_fully_delivered_segment_bills_all_its_characters() -> None:
    delivery = Delivery(1000, Clock())
    ticket = SegmentTicket(0, characters=30, samples=2000)
    delivery.record(ticket, 1000, audible=True)
    delivery.record(ticket, 1000, audible=True)
    assert (delivery.usage.characters, delivery.usage.audio_seconds) == (30, 2.0)


def test_a_segment_cut_by_a_cancel_bills_its_delivered_share_rounded_down() -> None:
    delivery = Delivery(1000, Clock())
    delivery.record(SegmentTicket(0, characters=10, samples=1000), 1000, audible=True)
    delivery.record(SegmentTicket(1, characters=30, samples=3000), 1100, audible=True)
    delivery.interrupt()
    delivery.cut()
    usage = delivery.usage
    assert (usage.characters, usage.audio_seconds, usage.segments) == (10 + 11, 2.1, 2)


def test_the_listener_waits_once_delivered_audio_has_played_out() -> None:
    clock = Clock()
    delivery = Delivery(1000, clock)
    assert delivery.listener_waiting()
    delivery.record(SegmentTicket(0, 5, 2000), 2000, audible=True)  # two seconds of audio
    clock.now += 1.0
    assert not delivery.listener_waiting()
    clock.now += 1.5
    assert delivery.listener_waiting()


def test_time_to_first_audio_runs_from_a_ready_segment_to_its_first_audible_bytes() -> None:
    clock = Clock()
    delivery = Delivery(1000, clock)
    delivery.segment_queued()
    clock.now += 0.25
    ticket = SegmentTicket(0, 5, 1000)
    assert delivery.record(ticket, 100, audible=False) is None  # an encoder still filling up
    clock.now += 0.05
    assert delivery.record(ticket, 100, audible=True) == pytest.approx(0.30)
    assert delivery.record(ticket, 100, audible=True) is None  # measured once per wait
