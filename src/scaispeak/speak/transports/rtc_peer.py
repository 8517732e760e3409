"""One WebRTC peer (aiortc): its connection, the speech track it hears, its data channel.

The client's offer brings an audio transceiver (it receives) and a data channel (it
opens). The server answers with :class:`SpeechTrack` on that transceiver: 20 ms packets
of 48 kHz mono PCM from a :class:`Playout`, which aiortc encodes as Opus. Client
messages are queued for the session; :class:`RtcSink` is the session's way out.

Neither direction queues without bound: a peer that sends faster than the session
reads is disconnected (``MAX_INBOX``, ``MAX_INBOX_BYTES``), and events wait while the
data channel holds ``MAX_CHANNEL_BUFFER`` bytes the peer has not taken, so the
session's own limits on a client that does not read (session.py) apply as on a
WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from fractions import Fraction
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription
from av import AudioFrame

from scaispeak.settings import WebRtcSettings
from scaispeak.speak.streaming.playout import Playout
from scaispeak.speak.streaming.sink import SinkClosed
from scaispeak.speak.transports.rtc_offers import screened_offer

RATE = 48_000
"""Opus's clock: the track carries 48 kHz, so the session is asked for PCM at this rate."""
PACKET_MS = 20
MAX_INBOX = 1_000
"""Unread client messages; a peer that floods past this is disconnected."""
MAX_INBOX_BYTES = 1024 * 1024
"""Unread client bytes, likewise: a thousand messages of the largest size would be
256 MiB held for one peer while the session waits on a slow channel."""
MAX_MESSAGE_BYTES = 256 * 1024
"""The largest data channel message this side advertises (aiortc's SCTP default);
aiortc does not enforce it on what arrives, so a peer sending more is cut off here."""
MAX_CHANNEL_BUFFER = 256 * 1024
"""Bytes of events aiortc may hold for the data channel before sending more waits:
its queue has no bound of its own, so a peer that stops taking data would grow it."""

_log = logging.getLogger(__name__)


class SpeechTrack(MediaStreamTrack):
    """The outgoing audio: aiortc calls ``recv`` for each packet it sends."""

    kind = "audio"

    def __init__(self, playout: Playout) -> None:
        super().__init__()
        self._playout = playout
        self._time_base = Fraction(1, playout.rate)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts, pcm = await self._playout.next_packet()
        frame = AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.pts, frame.sample_rate, frame.time_base = pts, self._playout.rate, self._time_base
        return frame


class RtcPeer:
    def __init__(self, settings: WebRtcSettings) -> None:
        servers = [
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in settings.ice_servers
        ]
        # An explicit list, even empty: with None aiortc would ask a public STUN server.
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.playout = Playout(RATE, packet_ms=PACKET_MS, lead_ms=settings.playout_lead_ms)
        self.opened = asyncio.Event()
        self.gone = asyncio.Event()
        self._channel: RTCDataChannel | None = None
        self._inbox: deque[str | bytes] = deque()
        self._inbox_bytes = 0
        self._arrived = asyncio.Event()
        self.connection.on("datachannel", self._on_channel)
        self.connection.on("connectionstatechange", self._on_state)

    async def answer(self, offer_sdp: str) -> str:
        """Accept the client's offer; returns the answer's SDP (candidates included).

        Raises ValueError (as aiortc does) for an offer this session cannot use.
        """
        offer_sdp = screened_offer(offer_sdp)
        await self.connection.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        if not _receives_audio(offer_sdp) or self.connection.sctp is None:
            raise ValueError("the offer must receive audio and carry a data channel")
        self.connection.addTrack(SpeechTrack(self.playout))
        await self.connection.setLocalDescription(await self.connection.createAnswer())
        return self.connection.localDescription.sdp

    async def receive(self) -> str | bytes | None:
        """The next client message, in order; None once the peer is gone."""
        while not self._inbox:
            if self.gone.is_set():
                return None
            self._arrived.clear()
            await self._arrived.wait()
        message = self._inbox.popleft()
        self._inbox_bytes -= _size_of(message)
        return message

    async def send(self, event: dict[str, Any]) -> None:
        """Send one event on the data channel, first waiting for the peer to take what
        it holds if that is ``MAX_CHANNEL_BUFFER`` or more; SinkClosed if it is not open."""
        if self._channel is not None and self._channel.bufferedAmount >= MAX_CHANNEL_BUFFER:
            await self.flushed()
        if self._channel is None or self.gone.is_set():
            raise SinkClosed
        try:
            self._channel.send(json.dumps(event))
        except InvalidStateError as exc:
            raise SinkClosed from exc

    async def flushed(self) -> None:
        """Wait until the data channel has handed every queued event to the network,
        or the peer is gone."""
        channel = self._channel
        if channel is None or not channel.bufferedAmount or self.gone.is_set():
            return
        drained = asyncio.Event()
        channel.once("bufferedamountlow", drained.set)  # fires when it reaches 0
        await _first_of(drained, self.gone)

    async def close(self) -> None:
        self._leave()
        await self.connection.close()

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:  # one conversation per session
            channel.close()
            return
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", self._leave)
        if channel.readyState == "open":
            self.opened.set()
        else:
            channel.on("open", self.opened.set)

    def _on_message(self, message: str | bytes) -> None:
        size = _size_of(message)
        if size > MAX_MESSAGE_BYTES:
            _log.warning(
                "a WebRTC peer sent a message over %d bytes; disconnecting it", MAX_MESSAGE_BYTES
            )
            self._leave()
            return
        if len(self._inbox) >= MAX_INBOX or self._inbox_bytes + size > MAX_INBOX_BYTES:
            _log.warning(
                "a WebRTC peer sent %d unread messages (%d bytes); disconnecting it",
                len(self._inbox),
                self._inbox_bytes,
            )
            self._leave()
            return
        self._inbox.append(message)
        self._inbox_bytes += size
        self._arrived.set()

    def _on_state(self) -> None:
        if self.connection.connectionState in ("failed", "closed"):
            self._leave()

    def _leave(self) -> None:
        self.gone.set()
        self._arrived.set()
        self.playout.close()


class RtcSink:
    """The session's output: events on the data channel, audio into the track's playout."""

    def __init__(self, peer: RtcPeer) -> None:
        self._peer = peer

    async def send_audio(self, data: bytes) -> None:
        await self._peer.playout.put(data)  # waits while the lead is full: backpressure

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._wait_open()
        if event["type"] == "cancelled":
            # Every frame before this event was queued on the track; none of it is heard.
            self._peer.playout.clear()
        await self._peer.send(event)

    async def _wait_open(self) -> None:
        """Events wait for the channel (an implicit start answers before it opens)."""
        await _first_of(self._peer.opened, self._peer.gone)


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set."""
    if any(event.is_set() for event in events):
        return
    waits = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _size_of(message: str | bytes) -> int:
    if isinstance(message, bytes) or len(message) > MAX_MESSAGE_BYTES:
        return len(message)
    return len(message.encode("utf-8", "surrogatepass"))


def _receives_audio(offer_sdp: str) -> bool:
    """Whether the offer has an audio section its peer receives on (``recvonly`` or
    ``sendrecv``, the default). aiortc answers a ``sendonly`` or ``inactive`` one
    without sending: the session would speak, be billed, and stall on a track that
    nobody pulls. Called once aiortc has parsed the offer without complaint."""
    media = SessionDescription.parse(offer_sdp).media
    return any(m.kind == "audio" and m.direction in (None, "recvonly", "sendrecv") for m in media)
