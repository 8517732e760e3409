"""Signed webhook deliveries when a job ends, retried with backoff.

Header ``X-ScaiSpeak-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, computed over
``f"{t}.{raw body}"`` with the tenant's webhook secret (GET /jobs/webhook-secret).
Receivers should recompute it and reject stale timestamps. An event may arrive more
than once (a retry after a lost answer); it carries the job id and its final state, so
repeats are recognisable. Delivery is best effort, not guaranteed: attempts live in the
worker's memory, and a worker that stops gives them only a short grace period
(runner.drain_notifications; docs/jobs.md, Webhooks).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from typing import Any

import httpx

from scaispeak.settings import JobSettings
from scaispeak.speak.jobs.webhook_targets import TargetPolicy, WebhookUrlRefused, destination

_log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-ScaiSpeak-Signature"


def tenant_webhook_secret(signing_key: str, tenant_id: str) -> str:
    """Derived, not stored: each tenant's secret, from the service's signing key."""
    return hmac.new(signing_key.encode(), f"webhook:{tenant_id}".encode(), "sha256").hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """What a receiver does (used by our tests; documented for clients)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    timestamp = int(parts.get("t", "0"))
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


async def deliver(url: str, event: dict[str, Any], secret: str, settings: JobSettings) -> bool:
    """POST the event until a 2xx answers or the attempts run out.

    Each attempt resolves the host again and checks the addresses (webhook_targets): a
    URL that now leads to a refused address is dropped, not retried. Redirects are not
    followed (a 3xx is a failed attempt), so a receiver cannot bounce us elsewhere.
    """
    body = json.dumps(event, default=str).encode()
    policy = TargetPolicy.from_settings(settings.webhook_allowed_targets)
    delay = settings.webhook_backoff_s
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_s) as client:
        for attempt in range(1, settings.webhook_attempts + 1):
            try:
                if await _post_once(client, url, body, secret, policy, settings):
                    return True
            except WebhookUrlRefused as exc:
                _log.warning("webhook %s not delivered: %s", url, exc.detail)
                return False
            if attempt < settings.webhook_attempts:
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay *= 2
    return False


async def _post_once(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    secret: str,
    policy: TargetPolicy,
    settings: JobSettings,
) -> bool:
    """One attempt; False on a non-2xx answer or a network error (worth retrying)."""
    try:
        target = await destination(url, policy, settings.webhook_timeout_s)
    except (OSError, TimeoutError) as exc:
        _log.warning("webhook %s: host did not resolve: %r", url, exc)
        return False
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
    }
    try:
        response = await client.post(
            target.url, content=body, headers=headers, extensions=target.extensions
        )
    except httpx.HTTPError as exc:
        _log.warning("webhook %s failed: %r", url, exc)
        return False
    if not response.is_success:
        _log.warning("webhook %s answered %s", url, response.status_code)
    return response.is_success
