"""What of a client's WebRTC offer the server acts on.

aiortc takes an offer as it comes. Two things in one are screened first:

- it must carry a DTLS fingerprint: without one aiortc answered 201, then failed in a
  task of its own (an AssertionError logged as never retrieved), and the session held
  a stream slot until its connect timeout;
- its ICE candidates are addresses the server sends connectivity checks to. A caller
  could name loopback or link-local ones (another service on the host, a cloud's
  metadata address) and have the server probe them: those are dropped, and at most
  ``MAX_CANDIDATES`` are kept of an offer that may be 100,000 characters long (about a
  thousand candidates) (helper-89). Private ranges stay: on a LAN, they are how a
  browser is reached. Host names (a browser's mDNS ``.local`` candidates) stay too.
"""

from __future__ import annotations

import ipaddress

MAX_CANDIDATES = 32
"""A browser offers a handful (host, server-reflexive and relay, per network)."""


def screened_offer(sdp: str) -> str:
    """``sdp`` without candidates the server must not probe; ValueError if it cannot be
    used at all (as aiortc raises for a malformed offer)."""
    lines = sdp.splitlines()
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise ValueError("the offer carries no DTLS fingerprint (a=fingerprint)")
    kept, candidates = [], 0
    for line in lines:
        if line.startswith("a=candidate:"):
            if candidates >= MAX_CANDIDATES or not _reachable(line):
                continue
            candidates += 1
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def _reachable(candidate: str) -> bool:
    """Whether a candidate's address may be probed: not loopback, link-local,
    unspecified, multicast or reserved. ``a=candidate:<foundation> <component>
    <transport> <priority> <address> <port> typ <type> ...``"""
    fields = candidate.split()
    if len(fields) < 6:
        return True  # malformed: aiortc refuses it as before
    try:
        address = ipaddress.ip_address(fields[4])
    except ValueError:
        return True  # a host name (mDNS): resolved by aiortc, not a literal address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )
