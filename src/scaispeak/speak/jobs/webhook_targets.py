"""Where webhooks may go: public internet addresses, plus what the operator allows.

A webhook URL is chosen by the caller but fetched by our workers, so without a rule any
tenant could make the service POST to its loopback, the private network or the cloud
metadata endpoint (SSRF). The rule runs twice: at submit, for a clear 422 before a job
exists, and before every delivery, on the addresses the host resolves to *then* (DNS
may have changed since). A delivery connects to the very address that was checked, so
a second, different DNS answer cannot slip in between (DNS rebinding).

``SCAISPEAK_JOBS__WEBHOOK_ALLOWED_TARGETS`` lists host names and networks that may be
reached anyway (an on-premises receiver); docs/jobs.md.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import Any

import httpx

from scaispeak.platform.errors import ServiceError

IpAddress = IPv4Address | IPv6Address

# Names that mean "this machine" or "the metadata service" without asking DNS, so they
# are refused at submit even where the submitting process cannot resolve them.
_REFUSED_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal"})
_NAT64 = IPv6Network("64:ff9b::/96")


class WebhookUrlRefused(ServiceError):
    """The webhook URL points at an address we do not send requests to."""

    status, code, title = 422, "webhook_url_refused", "Webhook URL not allowed"


@dataclass(frozen=True)
class TargetPolicy:
    """Public addresses, plus the host names and networks the operator allowed."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPv4Network | IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, allowed: list[str]) -> TargetPolicy:
        hosts: set[str] = set()
        networks: list[IPv4Network | IPv6Network] = []
        for entry in allowed:
            try:
                networks.append(ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(_normal_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def allows_address(self, address: IpAddress) -> bool:
        return any(address in net for net in self.networks) or is_public(address)


@dataclass(frozen=True)
class Destination:
    """What to connect to: the checked address in place of the name, when there was one."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


def is_public(address: IpAddress) -> bool:
    """A unicast address on the public internet (IPv4 carried in IPv6 judged as IPv4)."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    # fec0::/10 (deprecated site-local) counts as global on some Python versions.
    site_local = isinstance(address, IPv6Address) and address.is_site_local
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or site_local
    )


def embedded_ipv4(address: IpAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is where it leads."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _literal_address(host: str) -> IpAddress | None:
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def _refuse(url: str, why: str) -> WebhookUrlRefused:
    return WebhookUrlRefused(
        f"Webhooks are not sent to {why}; use a public address (or ask the operator to "
        "allow the receiver in SCAISPEAK_JOBS__WEBHOOK_ALLOWED_TARGETS).",
        webhook_url=url,
    )


def _check_name(url: str, host: str) -> None:
    name = _normal_host(host)
    if name in _REFUSED_NAMES or name.endswith(".localhost"):
        raise _refuse(url, f"{name!r} (a local or metadata host)")


def _check_addresses(url: str, host: str, addresses: list[IpAddress], policy: TargetPolicy) -> None:
    # Every answer must pass: the connection could otherwise pick the refused one.
    for address in addresses:
        if not policy.allows_address(address):
            raise _refuse(url, f"{host!r}, which is {address} (not a public address)")


_LOOKUPS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="webhook-dns")
"""Threads for receivers' name lookups, apart from the event loop's default executor:
a lookup that hangs keeps its thread past our timeout (until the system resolver gives
up), and receivers whose DNS hangs (any member picks the URL) would otherwise take
every thread that the service's own ``to_thread`` work (a job's assembly, audio
decoding) waits for. Sixteen such receivers at once still delay others' lookups,
whose attempts then fail and are retried."""


async def _resolve(host: str, port: int, timeout_s: float) -> list[IpAddress]:
    """The host's addresses; raises OSError (or TimeoutError) when it does not resolve."""
    loop = asyncio.get_running_loop()
    lookup = partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    infos = await asyncio.wait_for(loop.run_in_executor(_LOOKUPS, lookup), timeout_s)
    addresses = [ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OSError(f"{host!r} has no addresses")
    return addresses


async def check_webhook_url(url: str, policy: TargetPolicy, timeout_s: float) -> None:
    """At submit: refuse a URL whose host is, or resolves to, a refused address.

    A host that does not resolve now is accepted: delivery checks it again anyway, and
    a receiver's DNS being briefly away should not refuse the job.
    """
    try:
        await destination(url, policy, timeout_s)
    except (OSError, TimeoutError):
        return


async def destination(url: str, policy: TargetPolicy, timeout_s: float) -> Destination:
    """At delivery: resolve, check, and pin the connection to a checked address.

    Raises WebhookUrlRefused, or OSError/TimeoutError when the host does not resolve.
    """
    parsed = httpx.URL(url)
    host = parsed.host
    if _normal_host(host) in policy.hosts:
        return Destination(url)  # trusted by name: no address rule, nothing to pin
    literal = _literal_address(host)
    if literal is not None:
        _check_addresses(url, host, [literal], policy)
        return Destination(url)
    _check_name(url, host)
    try:
        addresses = await _resolve(host, parsed.port or _default_port(parsed), timeout_s)
    except UnicodeError:  # a label past 63 characters, which the IDNA codec refuses
        raise WebhookUrlRefused(
            f"The webhook URL's host {host[:80]!r} is not a valid host name.", webhook_url=url
        ) from None
    _check_addresses(url, host, addresses, policy)
    pinned = parsed.copy_with(host=str(addresses[0]))
    # Host names the virtual host; sni_hostname makes TLS present and verify the name.
    return Destination(
        str(pinned),
        headers={"Host": parsed.netloc.decode("ascii")},
        extensions={"sni_hostname": host} if parsed.scheme == "https" else {},
    )


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80
