"""Signed webhook deliveries when a job ends: one attempt at a time (outbox.py retries).

Header ``X-ScaiSpeak-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, computed over
``f"{t}.{raw body}"`` with the submitter's webhook secret (GET /jobs/webhook-secret);
after a rotation, a second ``v1=`` with the replaced secret for a while
(webhook_secrets.py).
Receivers should recompute it and reject stale timestamps. An event may arrive more
than once (a retry after a lost answer, or after the process sending it died); it
carries the job id and its final state, so repeats are recognisable.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from scaispeak.settings import JobSettings
from scaispeak.speak.jobs.webhook_targets import (
    Destination,
    TargetPolicy,
    WebhookUrlRefused,
    destination,
)

_log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-ScaiSpeak-Signature"


def webhook_secret(signing_key: str, tenant_id: str, user_id: str, version: int = 0) -> str:
    """Derived, not stored: each user's secret, from the service's signing key.

    Per user, not per tenant: whoever holds a secret can sign events, so with one
    secret for the tenant any member could forge "job succeeded" events to a
    colleague's receiver. ``version`` counts the user's rotations; 0 is the secret
    derived before rotation existed, which stays the same.
    """
    message = f"webhook:{tenant_id}:{user_id}{f':{version}' if version else ''}".encode()
    return hmac.new(signing_key.encode(), message, "sha256").hexdigest()


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secrets: list[str], body: bytes, timestamp: int) -> str:
    """The header: one ``v1=`` per secret (two while a rotation's grace lasts)."""
    return ",".join([f"t={timestamp}", *(f"v1={_digest(s, body, timestamp)}" for s in secrets)])


def verify(secret: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """What a receiver does (used by our tests; documented for clients): any ``v1``
    made with its secret, at a recent ``t``."""
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in items if name == "t"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, body, timestamp)
    return any(hmac.compare_digest(expected, value) for name, value in items if name == "v1")


class Sent(enum.Enum):
    """How one delivery attempt went."""

    DELIVERED = "delivered"  # a 2xx answered
    FAILED = "failed"  # worth trying again: no answer, a non-2xx, a name that did not resolve
    REFUSED = "refused"  # the URL leads to an address webhooks may not reach: never retried


def origin(url: str) -> str:
    """What a log may say of a webhook URL: its scheme, host and port. Receivers such as
    Slack's carry their secret in the path ("/services/T…/B…/<secret>"), and the log's
    redaction removes only query strings and credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


async def send(url: str, event: dict[str, Any], secrets: list[str], settings: JobSettings) -> Sent:
    """POST the event once.

    The host is resolved again and its addresses checked (webhook_targets): a URL that
    now leads to a refused address is refused, not retried. Redirects are not followed
    (a 3xx is a failed attempt), so a receiver cannot bounce us elsewhere.
    """
    body = json.dumps(event, default=str).encode()
    policy = TargetPolicy.from_settings(settings.webhook_allowed_targets)
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_s) as client:
        try:
            delivered = await _post_once(client, url, body, secrets, policy, settings)
        except WebhookUrlRefused as exc:
            _log.warning("webhook %s not delivered: %s", origin(url), exc.detail)
            return Sent.REFUSED
    return Sent.DELIVERED if delivered else Sent.FAILED


async def _post_once(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    secrets: list[str],
    policy: TargetPolicy,
    settings: JobSettings,
) -> bool:
    """One attempt; False on a non-2xx answer or a network error (worth retrying)."""
    try:
        target = await destination(url, policy, settings.webhook_timeout_s)
    except (OSError, TimeoutError) as exc:
        _log.warning("webhook %s: host did not resolve: %r", origin(url), exc)
        return False
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secrets, body, int(time.time())),
    }
    try:
        # The timeout bounds the whole answer: httpx's applies to each read alone, so
        # a receiver trickling bytes would hold the attempt past its claim window.
        async with asyncio.timeout(settings.webhook_timeout_s):
            status = await _status_of_post(client, target, body, headers)
    except (httpx.HTTPError, TimeoutError) as exc:
        _log.warning("webhook %s failed: %s: %s", origin(url), type(exc).__name__, exc)
        return False
    if not 200 <= status < 300:
        _log.warning("webhook %s answered %s", origin(url), status)
    return 200 <= status < 300


async def _status_of_post(
    client: httpx.AsyncClient, target: Destination, body: bytes, headers: dict[str, str]
) -> int:
    """The answer's status; its body is never read (a receiver could send without end,
    and every byte would be held in memory)."""
    request = client.build_request(
        "POST", target.url, content=body, headers=headers, extensions=target.extensions
    )
    response = await client.send(request, stream=True)
    await response.aclose()
    return response.status_code
