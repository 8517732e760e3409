"""Idempotent PUTs sent twice at once (a client's retry racing its first try) both
succeed: each created its row after finding none, and the second insert was a 500."""

from __future__ import annotations

import asyncio

from tests.conftest import LiveApp


async def test_two_first_budget_puts_at_once_both_succeed(live: LiveApp) -> None:
    t = live.tenancy
    url = f"/v1/tenants/{t.tenant_a}/budget"
    body = {"period": "month", "limit_micros": 1000}
    answers = await asyncio.gather(
        *(live.client.put(url, json=body, headers=live.auth(t.superadmin)) for _ in range(2))
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]


async def test_two_adds_of_one_share_member_at_once_both_succeed(live: LiveApp) -> None:
    t = live.tenancy
    share = await live.client.post(
        "/v1/drive/shares", json={"name": "s"}, headers=live.auth(t.admin_a)
    )
    url = f"/v1/drive/shares/{share.json()['id']}/members/{t.member_a_user}"
    answers = await asyncio.gather(
        *(
            live.client.put(url, json={"role": "read"}, headers=live.auth(t.admin_a))
            for _ in range(2)
        )
    )
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]


async def test_two_first_policy_puts_at_once_both_succeed(live: LiveApp) -> None:
    admin = live.auth(live.tenancy.admin_a)
    puts = [
        (
            "/v1/modules/scaispeak/policy",
            {"allowed_backends": ["selfhosted"], "default_backend": "selfhosted"},
        ),
        ("/v1/modules/scaispeak/provenance/policy", {"watermark_stock_voices": True}),
    ]
    for url, body in puts:
        answers = await asyncio.gather(
            *(live.client.put(url, json=body, headers=admin) for _ in range(3))
        )
        assert [a.status_code for a in answers] == [200] * 3, (url, [a.text for a in answers])
