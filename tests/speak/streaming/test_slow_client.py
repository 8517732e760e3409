"""A client that stops reading cannot grow the server's memory or keep its stream for good."""

from __future__ import annotations

import asyncio
import contextlib
import json

import numpy as np
import pytest
from pyee.asyncio import AsyncIOEventEmitter
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from scaispeak.settings import WebRtcSettings
from scaispeak.speak.streaming.outbox import AudioFrame, Event, Finish, Item, Outbox, SegmentTicket
from scaispeak.speak.streaming.session import MAX_QUEUED_EVENTS
from scaispeak.speak.transports.rtc_peer import MAX_CHANNEL_BUFFER, RtcPeer, RtcSink
from tests.speak.streaming.conftest import StreamServer
from tests.speak.streaming.session_rig import SENTENCES, Rig, send
from tests.support.polling import until
from tests.support.stream_client import STREAM_PATH

SLOW_CONSUMER_CLOSE = 4429
IDLE_CLOSE = 4408
MALFORMED = "not json"
CANCEL = json.dumps({"type": "cancel"})


@pytest.mark.parametrize("message", [MALFORMED, CANCEL], ids=["malformed", "cancel"])
async def test_a_client_that_sends_without_reading_is_dropped_with_slow_consumer(
    rig: Rig, message: str
) -> None:
    """Each message is answered by an event (an error, ``cancelled``) nobody reads."""
    rig.sink.reading.clear()
    async with rig.session() as session:
        await send(session, "start", voice_id="voc_held")
        answered = 0
        while not session.closed and answered <= 2 * MAX_QUEUED_EVENTS:
            await session.receive(message)
            answered += 1
        assert session.closed and session.close_code == SLOW_CONSUMER_CLOSE
        # The events piled up to the limit, no further (one more may be on its way).
        assert answered <= MAX_QUEUED_EVENTS + 1
        rig.sink.reading.set()  # a client that reads again learns why
        await rig.sink.wait_for(
            lambda: any(e["code"] == "slow_consumer" for e in rig.sink.events("error"))
        )


async def test_a_client_that_stops_reading_mid_speech_is_dropped_after_the_idle_timeout(
    rig: Rig,
) -> None:
    """Speech waits to be sent, so the stream is not idle by the old rule; nothing moves."""
    rig.sink.reading.clear()
    async with rig.session(idle_timeout_seconds=0.2) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)
        assert await asyncio.wait_for(session.wait_closed(), 10) == SLOW_CONSUMER_CLOSE


async def test_an_idle_stream_closes_even_when_its_client_takes_nothing_more(rig: Rig) -> None:
    """The idle timeout's error could not be sent (a WebRTC peer that stopped taking
    data), and the stream stayed open, holding its slot, for good."""
    async with rig.session(idle_timeout_seconds=0.3) as session:
        await send(session, "start", voice_id="voc_held")
        await rig.sink.wait_for(lambda: rig.sink.events("started"))
        rig.sink.reading.clear()
        assert await asyncio.wait_for(session.wait_closed(), 5) == IDLE_CLOSE


def _frame(number: int) -> AudioFrame:
    return AudioFrame(np.full(8, number, dtype=np.float32), SegmentTicket(0, 1, 8))


def _describe(item: Item) -> str:
    if isinstance(item, AudioFrame):
        return f"frame {int(item.pcm[0])}"
    return item.render()["type"] if isinstance(item, Event) else type(item).__name__


async def test_a_cancelled_utterance_never_leaves_and_holds_its_room_until_skipped() -> None:
    outbox = Outbox(max_frames=2, max_events=10)
    outbox.put(Event.fixed({"type": "segment"}, utterance=True))
    await outbox.put_frame(_frame(0))
    outbox.put(Event.fixed({"type": "error"}))
    await outbox.put_frame(_frame(1))
    outbox.put(Finish())
    outbox.drop_utterance()  # the cancel
    outbox.put(Event.fixed({"type": "cancelled"}))
    next_utterance = asyncio.ensure_future(outbox.put_frame(_frame(2)))
    await asyncio.sleep(0)
    # Cancelled frames are skipped, not searched for, so they keep their room until then:
    # a client that cancels over and over cannot pile up audio.
    assert not next_utterance.done()
    sent = [_describe(await outbox.get()) for _ in range(3)]
    assert sent == ["error", "cancelled", "frame 2"]
    assert len(outbox) == 0 and next_utterance.done()


class BackedUpChannel(AsyncIOEventEmitter):
    """A data channel whose peer takes nothing until :meth:`drain`."""

    readyState = "open"

    def __init__(self) -> None:
        super().__init__()
        self.bufferedAmount = 0
        self.sent: list[str] = []

    def send(self, data: str) -> None:
        self.sent.append(data)
        self.bufferedAmount += len(data.encode())

    def drain(self) -> None:
        self.bufferedAmount = 0
        self.emit("bufferedamountlow")


async def test_events_wait_while_the_data_channel_holds_too_much_the_peer_has_not_taken() -> None:
    peer = RtcPeer(WebRtcSettings())
    channel = BackedUpChannel()
    peer.connection.emit("datachannel", channel)  # as aiortc announces the client's channel
    sink = RtcSink(peer)
    event = {"type": "error", "detail": "x" * 1000}
    try:
        while channel.bufferedAmount < MAX_CHANNEL_BUFFER:
            await sink.send_event(event)
        waiting = asyncio.ensure_future(sink.send_event(event))
        await asyncio.sleep(0)
        assert not waiting.done()  # the session's sender waits: its own limits take over
        channel.drain()
        await asyncio.wait_for(waiting, 5)
        assert channel.bufferedAmount == len(channel.sent[-1])
    finally:
        await peer.close()


@pytest.mark.slow  # 20-45 s: it floods a real socket until the buffers between fill
async def test_a_websocket_client_that_floods_without_reading_loses_its_stream(
    stream_server: StreamServer,
) -> None:
    url = stream_server.url.replace("http://", "ws://") + STREAM_PATH
    headers = {"Authorization": f"Bearer {stream_server.key}"}
    streams = stream_server.speak.streams
    async with connect(url, additional_headers=headers, ping_interval=None) as ws:
        ws.transport.pause_reading()  # the client stops reading entirely
        await ws.send(MALFORMED)
        await until(lambda: streams.count() == 1, "the stream to open", 30, every=0.02)
        sent = 0
        # The server may close while a batch is being sent: a send then fails.
        with contextlib.suppress(ConnectionClosed, ConnectionResetError):
            while streams.count() and sent < 1_000_000:  # until the server's buffers fill
                for _ in range(1_000):
                    await ws.send(MALFORMED)
                sent += 1_000
        await until(lambda: streams.count() == 0, "the stream to be dropped", 30, every=0.02)
        ws.transport.resume_reading()
        with contextlib.suppress(ConnectionClosed):  # read what was sent, up to the close
            async for _ in ws:
                pass
    # A server that closes with the client's messages still unread in its socket makes
    # the kernel reset the connection, which can drop the close frame on its way (1006):
    # the code is then the transport's, not ours. The session-level tests above check
    # the 4429 itself; this one checks a real socket frees the stream.
    assert ws.close_code in (SLOW_CONSUMER_CLOSE, 1006)
