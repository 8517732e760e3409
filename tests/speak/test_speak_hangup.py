"""An inline `/speak` whose caller hangs up before its audio is made stops there:
no further segment is spoken for nobody, its hold is given back, nothing is charged."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

import httpx

from tests.support.gated import TEXT, Served

VOICE = "voc_piper_en-us-joe-medium"


def _send_and_hang_up(served: Served, gated: dict[str, Any]) -> None:
    """POST /speak on a raw socket and close it once the first segment is spoken."""
    body = json.dumps({"text": TEXT, "voice_id": VOICE, "format": "wav"}).encode()
    url = urlparse(served.server.url)
    head = (
        "POST /v1/modules/scaispeak/speak HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\n"
        f"Authorization: Bearer {served.key}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(head + body)
        _wait_for(lambda: gated["spoken"] == [0], "the first segment")
        assert served.held(), "the request holds its price meanwhile"


def _wait_for(condition: Any, what: str, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {within_s} s for {what}"
        threading.Event().wait(0.05)


def _budgeted(served: Served) -> None:
    """A budget, so the request's hold is a stored reservation to watch."""
    auth = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.server.url, headers=auth) as client:
        [tenant] = client.get("/v1/tenants").raise_for_status().json()
        budget = {"limit_micros": 10**9}
        client.put(f"/v1/tenants/{tenant['id']}/budget", json=budget).raise_for_status()


def test_a_caller_who_hangs_up_stops_an_inline_request_unbilled(
    served: Served, gated: dict[str, Any]
) -> None:
    _budgeted(served)
    charged_before = served.ledger_size()
    _send_and_hang_up(served, gated)
    # Without the stop, the hold stays until the gated segments are spoken.
    _wait_for(lambda: served.held() == [], "the hold to be given back", within_s=10)
    gated["gate"].set()
    threading.Event().wait(0.5)  # time for a segment that was still going to start
    assert gated["spoken"] == [0]
    assert served.ledger_size() == charged_before
