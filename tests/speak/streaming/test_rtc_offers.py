"""The server probes only the ICE candidates it may: a caller naming loopback or
link-local addresses had it send STUN checks to them (helper-89)."""

from __future__ import annotations

import pytest

from scaispeak.speak.transports.rtc_offers import MAX_CANDIDATES, screened_offer

HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AA:BB\r\n"


def candidate(address: str, port: int = 5000) -> str:
    return f"a=candidate:1 1 udp 2130706431 {address} {port} typ host"


def kept_candidates(sdp: str) -> list[str]:
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.169.254",
        "fe80::1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "240.0.0.1",
        "fd00:ec2::254",  # AWS's IPv6 metadata service, a private (ULA) address
        "fe80::1%eth0",
    ],
)
def test_candidates_the_server_must_not_probe_are_dropped(address: str) -> None:
    offer = HEAD + candidate(address) + "\r\n" + candidate("203.0.113.7") + "\r\n"
    assert kept_candidates(screened_offer(offer)) == ["203.0.113.7"]


@pytest.mark.parametrize(
    "address", ["192.168.1.20", "10.0.0.5", "2001:db8::5", "8f7c1d2e-aaaa.local"]
)
def test_lan_addresses_and_mdns_names_are_kept(address: str) -> None:
    """A browser on the same LAN is reached at its private address."""
    assert kept_candidates(screened_offer(HEAD + candidate(address) + "\r\n")) == [address]


def test_at_most_a_browsers_worth_of_candidates_is_kept() -> None:
    offer = HEAD + "".join(candidate("203.0.113.7", 1000 + i) + "\r\n" for i in range(1000))
    assert len(kept_candidates(screened_offer(offer))) == MAX_CANDIDATES


def test_an_offer_without_a_dtls_fingerprint_is_refused() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        screened_offer(HEAD.replace("a=fingerprint:sha-256 AA:BB\r\n", "") + candidate("1.2.3.4"))


def test_tcp_candidates_are_dropped_without_taking_a_place() -> None:
    """aiortc never pairs a TCP candidate; counted, they crowded out a relay's."""
    tcp = "".join(
        f"a=candidate:2 1 tcp 1518280447 203.0.113.{i} 9 typ host tcptype active\r\n"
        for i in range(40)
    )
    offer = HEAD + tcp + candidate("198.51.100.9") + "\r\n"
    assert kept_candidates(screened_offer(offer)) == ["198.51.100.9"]


def test_every_media_section_needs_a_fingerprint_its_own_or_the_sessions() -> None:
    """One on the data channel's section alone passed, and aiortc failed on the audio's
    in a task of its own (helper-92)."""
    session = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    audio = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    data = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"
    mark = "a=fingerprint:sha-256 AA:BB\r\n"
    with pytest.raises(ValueError, match="fingerprint"):
        screened_offer(session + audio + data + mark)
    assert screened_offer(session + audio + mark + data + mark)
    assert screened_offer(session + mark + audio + data)
