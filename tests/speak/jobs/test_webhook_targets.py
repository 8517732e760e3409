"""Webhooks never reach loopback, private, link-local (metadata), multicast or reserved
addresses, unless the operator allows the target: refused at submit, and again at
delivery on the addresses the host resolves to then."""

from __future__ import annotations

import logging
from ipaddress import IPv4Address, ip_address
from typing import Any

import pytest

from scaispeak.settings import JobSettings
from scaispeak.speak.jobs import webhook_targets
from scaispeak.speak.jobs.webhooks import Sent, send
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.conftest import Received
from tests.speak.jobs.test_jobs_embedded import submit
from tests.speak.jobs.test_save_to_and_webhooks import job_count

REFUSED_AT_SUBMIT = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.251/hook",
    "http://240.0.0.1/hook",
    "http://[::1]/hook",
    "http://[fd00:ec2::254]/latest",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",
]


async def test_a_webhook_to_an_internal_address_is_refused_at_submit(sqlite_app: LiveApp) -> None:
    before = await job_count(sqlite_app)
    for url in REFUSED_AT_SUBMIT:
        refused = await submit(sqlite_app, webhook_url=url)
        assert_problem(refused, 422, "webhook_url_refused")
    assert await job_count(sqlite_app) == before


def test_public_addresses_pass_and_allowed_networks_open_internal_ones() -> None:
    default = webhook_targets.TargetPolicy.from_settings([])
    assert default.allows_address(ip_address("93.184.215.14"))
    assert default.allows_address(ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"))
    assert not default.allows_address(ip_address("172.16.5.4"))
    on_prem = webhook_targets.TargetPolicy.from_settings(["172.16.0.0/12", "hooks.corp"])
    assert on_prem.allows_address(ip_address("172.16.5.4"))
    assert not on_prem.allows_address(ip_address("10.0.0.1"))
    assert on_prem.hosts == {"hooks.corp"}


def _settings(allowed: list[str]) -> JobSettings:
    return JobSettings(webhook_timeout_s=5, webhook_allowed_targets=allowed)


async def test_delivery_refuses_a_loopback_receiver_the_operator_did_not_allow(
    receiver: tuple[str, Received], caplog: pytest.LogCaptureFixture
) -> None:
    url, received = receiver
    with caplog.at_level(logging.WARNING):
        sent = await send(url, {"event": "job.succeeded"}, ["secret"], _settings([]))
    assert sent is Sent.REFUSED
    assert received == []
    assert any("not delivered" in r.getMessage() for r in caplog.records)


async def test_delivery_checks_what_the_name_resolves_to_and_connects_there(
    receiver: tuple[str, Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public-looking name whose DNS answer is loopback (a rebinding attack's answer)
    is refused; once that network is allowed, the request reaches the checked address
    (the name itself resolves nowhere, so nothing else could have been connected to)."""
    url, received = receiver
    port = url.split(":")[2].split("/")[0]
    asked: list[str] = []

    async def dns_answers_loopback(host: str, *_: Any) -> list[IPv4Address]:
        asked.append(host)
        return [IPv4Address("127.0.0.1")]

    monkeypatch.setattr(webhook_targets, "_resolve", dns_answers_loopback)
    named = f"http://hooks.example.com:{port}/hook"
    event = {"event": "job.succeeded"}
    assert await send(named, event, ["secret"], _settings([])) is Sent.REFUSED
    assert received == [] and asked == ["hooks.example.com"]
    assert await send(named, event, ["secret"], _settings(["127.0.0.0/8"])) is Sent.DELIVERED
    assert len(received) == 1
