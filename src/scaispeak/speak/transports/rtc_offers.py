"""What of a client's WebRTC offer the server acts on.

aiortc takes an offer as it comes. Two things in one are screened first:

- every media section must have a DTLS fingerprint, its own or the session's: without
  one aiortc answered 201, then failed in a task of its own (an AssertionError logged
  as never retrieved), and the session held a stream slot until its connect timeout;
- its ICE candidates are addresses the server sends connectivity checks to. A caller
  could name loopback or link-local ones (another service on the host, a cloud's
  metadata address) and have the server probe them: those are dropped, as are TCP
  candidates (aiortc never pairs them), and at most ``MAX_CANDIDATES`` are kept of an
  offer that may be 100,000 characters long (about a thousand candidates)
  (helper-89). Private ranges stay: on a LAN, they are how a browser is reached. Host
  names (a browser's mDNS ``.local`` candidates) stay too; what they resolve to on the
  LAN is not screened.
"""

from __future__ import annotations

import ipaddress

from scaispeak.speak.jobs.webhook_targets import embedded_ipv4

MAX_CANDIDATES = 32
"""A browser offers a handful (host, server-reflexive and relay, per network)."""
_METADATA = (ipaddress.ip_address("fd00:ec2::254"),)
"""Cloud metadata addresses outside the ranges refused below (AWS's IPv6 one is ULA)."""


def screened_offer(sdp: str) -> str:
    """``sdp`` without candidates the server must not probe; ValueError if it cannot be
    used at all (as aiortc raises for a malformed offer)."""
    lines = sdp.splitlines()
    if not _every_section_has_a_fingerprint(lines):
        raise ValueError("the offer carries no DTLS fingerprint (a=fingerprint) for each media")
    kept, candidates = [], 0
    for line in lines:
        if line.startswith("a=candidate:"):
            if candidates >= MAX_CANDIDATES or not _reachable(line):
                continue
            candidates += 1
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def _every_section_has_a_fingerprint(lines: list[str]) -> bool:
    """aiortc reads a section's fingerprint, else the session's (before any ``m=``)."""
    sections: list[bool] = [False]  # the session part, then one per m= line
    for line in lines:
        if line.startswith("m="):
            sections.append(False)
        elif line.startswith("a=fingerprint:"):
            sections[-1] = True
    return sections[0] or (len(sections) > 1 and all(sections[1:]))


def _reachable(candidate: str) -> bool:
    """Whether a candidate may be probed: UDP, at an address that is not loopback,
    link-local, unspecified, multicast, reserved or a metadata service.
    ``a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ
    <type> ...``"""
    fields = candidate.split()
    if len(fields) < 6:
        return True  # malformed: aiortc refuses it as before
    if fields[2].lower() != "udp":
        return False
    try:
        address = ipaddress.ip_address(fields[4].split("%")[0])
    except ValueError:
        return True  # a host name (mDNS): resolved by aiortc, not a literal address
    address = embedded_ipv4(address) or address
    return not (
        address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or address in _METADATA
    )
