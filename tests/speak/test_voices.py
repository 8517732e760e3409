"""The voice library: seeded global voices, licences, filters, ranking, pagination."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.voices.models import Voice
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem

VOICES = "/v1/modules/scaispeak/voices"
SPEAK = "/v1/modules/scaispeak/speak"


async def test_both_engines_voices_are_seeded_global_with_licences(live: LiveApp) -> None:
    page = await live.client.get(VOICES, headers=live.auth(live.tenancy.member_b))
    assert page.status_code == 200
    items = {v["id"]: v for v in page.json()["items"]}
    joe = items["voc_piper_en-us-joe-medium"]
    assert joe["scope"] == "global" and joe["status"] == "ready" and joe["engine"] == "piper"
    assert joe["licence"]["engine_licence"] == "GPL-3.0-or-later"
    assert joe["licence"]["voice_licence"] == "MIT"
    kokoro = [v for v in items.values() if v["engine"] == "kokoro"]
    assert len(kokoro) == 5
    assert all(v["licence"]["voice_licence"] for v in kokoro)


async def test_cursor_pagination_walks_every_voice_once(live: LiveApp) -> None:
    headers = live.auth(live.tenancy.member_a)
    everything = (await live.client.get(VOICES, headers=headers)).json()["items"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await live.client.get(VOICES, params=params, headers=headers)).json()
        assert len(page["items"]) <= 2
        seen.extend(v["id"] for v in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [v["id"] for v in everything]
    # The six seeded voices, and any global voice an earlier test left in the session's
    # shared PostgreSQL database (which tests run before this one depends on the order).
    assert len(set(seen)) == len(seen) >= 6


async def test_filters_language_query_tag_scope(live: LiveApp) -> None:
    headers = live.auth(live.tenancy.member_a)

    async def ids(**params: str) -> set[str]:
        response = await live.client.get(VOICES, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {v["id"] for v in response.json()["items"]}

    assert len(await ids(language="en")) == 6
    assert await ids(language="fr") == set()
    assert await ids(q="joe") == {"voc_piper_en-us-joe-medium"}
    assert len(await ids(tag="kokoro")) == 5
    assert await ids(scope="tenant") == set()


async def test_popular_voices_rank_first_within_scope(live: LiveApp) -> None:
    """Speaking a voice counts in the tenant; its most used global voice leads."""
    headers = live.auth(live.tenancy.member_a)
    listed = (await live.client.get(VOICES, headers=headers)).json()["items"]
    top = max(voice["usage_count"] for voice in listed)
    for _ in range(top + 1):
        spoken = await live.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": "Rank me.", "voice_id": "voc_kokoro_jm-kumo"},
            headers=live.auth(live.tenancy.admin_a),  # a colleague: not member A's recent use
        )
        assert spoken.status_code == 200
    first = (await live.client.get(VOICES, headers=headers)).json()["items"][0]
    assert first["id"] == "voc_kokoro_jm-kumo" and first["usage_count"] == top + 1


async def test_another_tenants_use_neither_shows_nor_moves_the_ranking(live: LiveApp) -> None:
    """One counter for everyone let tenant B watch tenant A's use of each global voice
    and see its listing reorder with it."""
    a, b = live.auth(live.tenancy.member_a), live.auth(live.tenancy.member_b)
    before = (await live.client.get(VOICES, headers=b)).json()["items"]
    for _ in range(3):
        spoken = await live.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": "Only mine.", "voice_id": "voc_kokoro_jf-tebukuro"},
            headers=a,
        )
        assert spoken.status_code == 200
    after = (await live.client.get(VOICES, headers=b)).json()["items"]
    assert [(v["id"], v["usage_count"]) for v in after] == [
        (v["id"], v["usage_count"]) for v in before
    ]
    mine = (await live.client.get(VOICES, headers=a)).json()["items"]
    assert next(v for v in mine if v["id"] == "voc_kokoro_jf-tebukuro")["usage_count"] >= 3


async def test_get_voice_and_unknown_voice(live: LiveApp) -> None:
    headers = live.auth(live.tenancy.member_a)
    one = await live.client.get(f"{VOICES}/voc_piper_en-us-joe-medium", headers=headers)
    assert one.status_code == 200 and one.json()["name"]
    assert_problem(
        await live.client.get(f"{VOICES}/voc_missing", headers=headers), 404, "unknown_voice"
    )


FORGED_CURSORS = [
    "!!!",
    base64.urlsafe_b64encode(b"[" * 1000).decode(),  # nested past the parser: a 500
    # A NUL: PostgreSQL refuses it in text, and the query failed (a 500).
    base64.urlsafe_b64encode(json.dumps(["\u0000"]).encode()).decode(),
    base64.urlsafe_b64encode(json.dumps(["2026-01-01", 0, 0, "\u0000", "x"]).encode()).decode(),
    # A lone surrogate: no driver can bind it (a UnicodeEncodeError, a 500).
    base64.urlsafe_b64encode(json.dumps(["\ud800"]).encode()).decode(),
    "A" * 5000,
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
async def test_garbage_cursor_is_400(live: LiveApp, cursor: str) -> None:
    response = await live.client.get(
        VOICES, params={"cursor": cursor}, headers=live.auth(live.tenancy.member_a)
    )
    assert_problem(response, 400, "invalid_cursor")


async def test_an_openai_voice_name_whose_voice_is_not_served_takes_one_that_is(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """With Kokoro not enabled, "alloy" was a 404 naming voc_kokoro_jf-alpha, a voice
    the caller never asked for (helper-93); an OpenAI client knows only these names."""
    piper_only = EngineRegistry([engines.get("piper")])
    async with started_app(make_settings(tmp_path), piper_only) as app:
        headers = app.auth(app.tenancy.member_a)
        for name in ["alloy", "Nova", "ash"]:
            body = {"text": "Hi there.", "voice_id": name, "format": "wav"}
            response = await app.client.post(SPEAK, json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.headers["X-ScaiSpeak-Voice"] == "voc_piper_en-us-joe-medium"
        body = {"text": "Hi there.", "voice_id": "voc_kokoro_jf-alpha"}
        assert_problem(
            await app.client.post(SPEAK, json=body, headers=headers), 404, "unknown_voice"
        )

        # A Kokoro voice seeded while Kokoro ran outlives it: "alloy" found it, and the
        # speech failed with a 500, as the voice's own id did (helper-97).
        async with app.app.state.platform.db.sessions() as session:
            joe = await session.get(Voice, "voc_piper_en-us-joe-medium")
            assert joe is not None
            stale = {c.name: getattr(joe, c.name) for c in Voice.__table__.columns}
            session.add(Voice(**{**stale, "id": "voc_kokoro_jf-alpha", "engine": "kokoro"}))
            await session.commit()
        body = {"text": "Hi there.", "voice_id": "alloy", "format": "wav"}
        response = await app.client.post(SPEAK, json=body, headers=headers)
        assert response.headers["X-ScaiSpeak-Voice"] == "voc_piper_en-us-joe-medium"
        body = {"text": "Hi there.", "voice_id": "voc_kokoro_jf-alpha"}
        stale_voice = await app.client.post(SPEAK, json=body, headers=headers)
        assert_problem(stale_voice, 409, "voice_unavailable")
