"""What a stream says back about a client's message stays small, whatever was sent."""

from __future__ import annotations

import json

import pytest

from scaispeak.platform.errors import ServiceError
from scaispeak.settings import WebRtcSettings
from scaispeak.speak.streaming.protocol import parse_message
from scaispeak.speak.transports.rtc_peer import MAX_MESSAGE_BYTES, RtcPeer

HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    "message",
    [
        {"type": HUGE},
        {"type": "text", "text": "Hello.", HUGE: 1},
    ],
)
def test_an_error_names_what_the_client_sent_only_briefly(message: dict[str, object]) -> None:
    """Errors wait, counted but not weighed, for a client that may not read them: a
    megabyte echoed in each would pin gigabytes before the count ends the stream."""
    with pytest.raises(ServiceError) as refused:
        parse_message(json.dumps(message))
    assert refused.value.detail and len(refused.value.detail) < 600


async def test_a_webrtc_message_over_the_advertised_size_cuts_the_peer_off() -> None:
    """aiortc advertises 256 KiB but takes any size; a 4 MiB message was queued."""
    peer = RtcPeer(WebRtcSettings())
    try:
        peer._on_message("{}")  # aiortc's data channel callback
        peer._on_message("x" * (MAX_MESSAGE_BYTES + 1))
        assert peer.gone.is_set()
        assert await peer.receive() == "{}"
        assert await peer.receive() is None
    finally:
        await peer.connection.close()


async def test_a_webrtc_peer_whose_unread_messages_pass_a_megabyte_is_cut_off() -> None:
    """Each within the message limit, together a quarter of a gigabyte before the count
    of messages would have stopped them."""
    peer = RtcPeer(WebRtcSettings())
    big = "x" * (MAX_MESSAGE_BYTES - 1)
    try:
        for _ in range(4):
            peer._on_message(big)
        assert not peer.gone.is_set()
        assert await peer.receive() == big  # read: room for one more
        peer._on_message(big)
        assert not peer.gone.is_set()
        peer._on_message(big)
        assert peer.gone.is_set()
    finally:
        await peer.connection.close()


def test_a_message_of_many_fields_is_refused_before_it_is_validated() -> None:
    """Validating, then describing, one error per unknown key of a 16 MiB message held
    the event loop for 9.5 s (measured); the message is now refused by its size, and a
    message under it by its count of fields, before pydantic sees it."""
    many = json.dumps({"type": "cancel", **{f"k{i}": 0 for i in range(20_000)}})
    with pytest.raises(ServiceError, match="at most 32 fields"):
        parse_message(many)
    with pytest.raises(ServiceError) as refused:
        parse_message(json.dumps({"type": "text", "text": "x" * 300_000}))
    assert refused.value.code == "message_too_large"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"text": "Hello."}, "invalid_message"),  # no type: a missing field
        ({"type": 5}, "invalid_message"),  # a type that is not a string: a mistyped one
        ({"type": "speak"}, "unknown_message_type"),
    ],
)
def test_a_missing_or_mistyped_type_is_an_invalid_message(
    message: dict[str, object], code: str
) -> None:
    """docs/streaming.md: missing or mistyped fields are 422 invalid_message; only a type
    the protocol does not know is unknown_message_type."""
    with pytest.raises(ServiceError) as refused:
        parse_message(json.dumps(message))
    assert refused.value.code == code
