"""Real-time delivery: WebSocket streams and WebRTC sessions."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class StreamingSettings(BaseModel):
    """Real-time streaming (WebSocket /stream/speak). Documented in docs/streaming.md."""

    max_streams_per_tenant: int = Field(
        8,
        ge=1,
        description="Streams one tenant may hold open at once (too_many_streams); with Redis"
        " the count spans every API replica, else this process.",
    )
    shared_slot_ttl_s: float = Field(
        60.0,
        gt=0,
        description="With Redis: a stream slot lapses this long after its replica stops"
        " renewing it (a crashed replica frees its tenants' slots within this time).",
    )
    max_text_chars: int = Field(
        100_000, ge=1, description="Text one stream may send in total (text_too_long above it)."
    )
    min_segment_chars: int = Field(
        12,
        ge=1,
        description="Shortest first clause spoken early; shorter fragments merge with a neighbour.",
    )
    max_wait_chars: int = Field(
        160, ge=1, description="Buffered characters without a sentence end before a clause is cut."
    )
    max_wait_ms: int = Field(
        700,
        ge=0,
        description="How long buffered text waits for a boundary before its whole words speak.",
    )
    idle_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="A stream with nothing to say and no message for this long is closed.",
    )
    frame_ms: int = Field(
        100, ge=10, le=1000, description="Audio carried by one binary frame (10-1000 ms)."
    )
    first_audio_head_ms: int = Field(
        250,
        ge=0,
        description="While a listener hears silence, make only this much of the segment"
        " first and send it, then the rest (engines that can: Piper); 0 makes whole segments.",
    )
    hold_chars: int = Field(
        2_000,
        ge=1,
        description="Budget held per step of a stream (characters x price); topped up "
        "as the text grows, settled at the end for the audio delivered.",
    )
    max_buffered_audio_seconds: float = Field(
        4.0,
        gt=0,
        description="Audio made but not yet sent before synthesis pauses (slow readers).",
    )
    send_ahead_seconds: float = Field(
        2.0,
        gt=0,
        description="How far ahead of the listener's playback a WebSocket stream's audio"
        " is sent (the client's buffer): sent audio is billed, so a barge-in saves the"
        " rest. WebRTC plays out in real time anyway.",
    )


class IceServer(BaseModel):
    """One STUN or TURN server offered to WebRTC peers (RTCIceServer's fields)."""

    urls: list[str] = Field(description="e.g. ['stun:stun.example.com:3478'].")
    username: str | None = Field(None, description="TURN user name.")
    credential: str | None = Field(None, description="TURN password.")


class WebRtcSettings(BaseModel):
    """WebRTC streaming sessions (/stream/speak/webrtc/sessions). See docs/streaming.md."""

    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description="STUN/TURN servers as JSON, e.g. "
        '`[{"urls": ["stun:stun.example.com:3478"]}]`; none: host candidates only. `stun:`, '
        "`turn:` (udp or tcp) or `turns:` (tcp) URLs, TURN with a username and credential; "
        "the server's WebRTC stack (aiortc) uses the first STUN and the first TURN URL.",
    )
    connect_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description="A session whose peer has not opened its data channel by then is closed.",
    )
    playout_lead_ms: int = Field(
        120,
        ge=0,
        description="Audio queued on the track ahead of real time; more waits (backpressure), "
        "and a cancel discards at most this much plus one frame.",
    )

    @field_validator("ice_servers")
    @classmethod
    def _usable_by_aiortc(cls, servers: list[IceServer]) -> list[IceServer]:
        """Refused at start: aiortc reads these only when an offer comes, so a malformed
        URL failed every session (as the caller's offer), and it skips what it cannot
        use without a word (``stuns:``, TURN over other transports, TURN without a
        password). Further servers of a kind are kept (it uses the first), as lists of
        several public STUN servers are common."""
        for server in servers:
            for url in server.urls:
                kind = _ice_kind(url)
                if kind == "turn" and not (server.username and server.credential):
                    raise ValueError(f"TURN server {url!r} needs a username and a credential")
        return servers


def _ice_kind(url: str) -> str:
    """``stun`` or ``turn`` for a URL aiortc can use; raises ValueError for one it cannot."""
    from aiortc.rtcicetransport import parse_stun_turn_uri  # only when servers are set

    try:
        parsed = parse_stun_turn_uri(url)
    except ValueError:
        raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL") from None
    scheme, transport = parsed["scheme"], parsed.get("transport")
    if scheme == "stun":
        return "stun"
    if (scheme, transport) in {("turn", "udp"), ("turn", "tcp"), ("turns", "tcp")}:
        return "turn"
    raise ValueError(f"{url!r}: use stun:, turn: over udp or tcp, or turns: over tcp")
