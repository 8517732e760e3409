"""A WebRTC test client (aiortc): offers, keeps every event and audio frame with its time.

It does what a browser does: receives audio on a transceiver, opens an ordered data
channel, posts its offer once its host candidates are gathered, and decodes the Opus
track it gets back (aiortc's decoder: 48 kHz stereo, of which one channel is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from tests.support.stream_client import DEADLINE_S, Received

SESSIONS_PATH = "/v1/modules/scaispeak/stream/speak/webrtc/sessions"
RATE = 48_000


async def offer_sdp(pc: RTCPeerConnection) -> str:
    """An offer that receives audio and carries a data channel (candidates gathered)."""
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


class RtcClient:
    def __init__(self, pc: RTCPeerConnection, channel: RTCDataChannel, session_id: str) -> None:
        self.pc = pc
        self.channel = channel
        self.session_id = session_id
        self.received: list[Received] = []
        self.frames: list[tuple[float, npt.NDArray[np.float32]]] = []
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, key: str, **body: Any) -> AsyncIterator[RtcClient]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        channel = pc.createDataChannel("speak")
        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        try:
            sdp = await offer_sdp(pc)
            async with httpx.AsyncClient(base_url=base_url) as http:
                response = await http.post(
                    SESSIONS_PATH,
                    json={"sdp": sdp, "type": "offer", **body},
                    headers={"Authorization": f"Bearer {key}"},
                )
            assert response.status_code == 201, response.text
            answer = response.json()
            client = cls(pc, channel, answer["session_id"])
            channel.on("message", client._on_message)
            channel.on("close", client._arrived.set)
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            track = await asyncio.wait_for(tracks.get(), DEADLINE_S)
            client._tasks.append(asyncio.create_task(client._listen(track)))
            await client._open()
            yield client
        finally:
            await pc.close()

    async def send(self, type: str, **fields: Any) -> float:
        self.channel.send(json.dumps({"type": type, **fields}))
        return time.perf_counter()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event is not None]

    def audio(self, since: float = 0.0, until: float = float("inf")) -> npt.NDArray[np.float32]:
        """Decoded audio that arrived between ``since`` and ``until`` (silence included)."""
        parts = [pcm for at, pcm in self.frames if since <= at <= until]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def loud_frames(self, floor: float = 0.01) -> list[float]:
        """When each frame louder than ``floor`` (RMS) arrived."""
        return [at for at, pcm in self.frames if float(np.sqrt(np.mean(pcm**2))) > floor]

    async def sound(self, floor: float = 0.01) -> float:
        """Wait for a frame louder than ``floor`` (RMS); returns when the first arrived."""
        loud: list[float] = await self._wait(lambda: self.loud_frames(floor) or None)
        return loud[0]

    async def event(self, kind: str) -> Received:
        """The first event of ``kind`` (waits for it)."""
        found: Received = await self._wait(
            lambda: next((r for r in self.received if _is(r, kind)), None)
        )
        return found

    async def channel_closed(self) -> None:
        await self._wait(lambda: self.channel.readyState == "closed" or None)

    async def _open(self) -> None:
        await self._wait(lambda: self.channel.readyState == "open" or None)

    async def _wait(self, found: Callable[[], Any]) -> Any:
        async def seek() -> Any:
            while (result := found()) is None:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.1)
            return result

        return await asyncio.wait_for(seek(), DEADLINE_S)

    def _on_message(self, message: str | bytes) -> None:
        event = json.loads(message)
        self.received.append(Received(time.perf_counter(), event=event))
        self._arrived.set()

    async def _listen(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, AudioFrame)
                stereo = frame.to_ndarray().reshape(-1)  # packed s16: L R L R …
                pcm = stereo[:: len(frame.layout.channels)].astype(np.float32) / np.float32(32768)
                self.frames.append((time.perf_counter(), pcm))
                self._arrived.set()


def _is(received: Received, kind: str) -> bool:
    return received.event is not None and received.event["type"] == kind
