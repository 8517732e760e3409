"""Editing the library: who may change, delete and promote which voice; recent use ranks."""

from __future__ import annotations

import base64
import json

import pytest

from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, Clips, VoiceApp, auth, plant_voice, unique


async def test_member_edits_own_voice_but_not_a_tenant_voice(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    own = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    shared = await plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=None, scope="tenant")
    patch = {"name": "Renamed", "tags": ["narration", "warm"], "language": "en-GB"}
    mine = await voice_app.client.patch(f"{VOICES}/{own}", json=patch, headers=auth(t.member_a))
    assert mine.status_code == 200, mine.text
    assert mine.json()["name"] == "Renamed" and mine.json()["language"] == "en-GB"
    theirs = await voice_app.client.patch(
        f"{VOICES}/{shared}", json=patch, headers=auth(t.member_a)
    )
    assert_problem(theirs, 403, "voice_not_editable")
    admin = await voice_app.client.patch(f"{VOICES}/{shared}", json=patch, headers=auth(t.admin_a))
    assert admin.status_code == 200
    bad = await voice_app.client.patch(
        f"{VOICES}/{own}", json={"language": "not a tag"}, headers=auth(t.member_a)
    )
    assert_problem(bad, 400, "bad_request")
    for tags in (["x" * 51], [""]):  # a tag is listed on every page: short, and not empty
        refused = await voice_app.client.patch(
            f"{VOICES}/{own}", json={"tags": tags}, headers=auth(t.member_a)
        )
        assert_problem(refused, 422, "validation_error")


async def test_global_voices_are_not_editable_by_tenant_admins(voice_app: VoiceApp) -> None:
    response = await voice_app.client.patch(
        f"{VOICES}/voc_piper_en-us-joe-medium",
        json={"name": "Mine now"},
        headers=auth(voice_app.tenancy.admin_a),
    )
    assert_problem(response, 403, "voice_not_editable")


async def test_deleting_a_cloned_voice_removes_its_audio_and_keeps_the_trail(
    voice_app: VoiceApp, clips: Clips
) -> None:
    from scaispeak.speak.voices import blobs

    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    deleted = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
    assert deleted.status_code == 204
    gone = await voice_app.client.get(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
    assert_problem(gone, 404, "unknown_voice")
    assert not await voice_app.storage.exists(blobs.reference_key(voice_id))
    assert not await voice_app.storage.exists(blobs.embedding_key(voice_id))
    verify = await voice_app.client.get(f"{VOICES}/audit/verify", headers=auth(t.admin_a))
    assert verify.json()["intact"] is True and verify.json()["entries"] >= 2


async def test_promotion_needs_the_owners_recorded_agreement(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    promote = f"{VOICES}/{voice_id}/promote"
    # Before the owner offers it, the admin cannot even see the private voice.
    assert_problem(
        await voice_app.client.post(promote, headers=auth(t.admin_a)), 404, "unknown_voice"
    )
    assert_problem(await voice_app.client.post(promote, headers=auth(t.member_a)), 403, "forbidden")
    agree = await voice_app.client.post(
        f"{VOICES}/{voice_id}/promotion/agree", headers=auth(t.member_a)
    )
    assert agree.status_code == 200 and agree.json()["promotion_agreed_at"]
    again = await voice_app.client.post(
        f"{VOICES}/{voice_id}/promotion/agree", headers=auth(t.member_a)
    )  # agreeing again changes nothing: no second entry to crowd the trail
    assert again.json()["promotion_agreed_at"] == agree.json()["promotion_agreed_at"]
    # The admin finds what was offered (the voice is still invisible in the library).
    offered_url = f"{VOICES}/promotion/offered"
    offered = await voice_app.client.get(offered_url, headers=auth(t.admin_a))
    assert [v["id"] for v in offered.json()] == [voice_id]
    members = await voice_app.client.get(offered_url, headers=auth(t.member_a))
    assert_problem(members, 403, "forbidden")
    promoted = await voice_app.client.post(promote, headers=auth(t.admin_a))
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["scope"] == "tenant"
    assert (await voice_app.client.get(offered_url, headers=auth(t.admin_a))).json() == []
    seen_by_admin = await voice_app.client.get(f"{VOICES}/{voice_id}", headers=auth(t.admin_a))
    assert seen_by_admin.status_code == 200
    trail = await voice_app.client.get(f"{VOICES}/{voice_id}/consent", headers=auth(t.admin_a))
    actions = [e["action"] for e in trail.json()["audit"]]
    assert actions[-2:] == ["promotion_agreed", "voice_promoted"]
    assert actions.count("promotion_agreed") == 1
    other = await voice_app.client.post(promote, headers=auth(t.member_b))
    assert_problem(other, 403, "forbidden")


async def test_recently_used_voices_rank_first_and_pages_stay_stable(voice_app: VoiceApp) -> None:
    headers = auth(voice_app.tenancy.member_a)
    for voice in ("voc_kokoro_jm-kumo", "voc_piper_en-us-joe-medium"):
        spoken = await voice_app.client.post(
            "/v1/modules/scaispeak/speak", json={"text": "Hi.", "voice_id": voice}, headers=headers
        )
        assert spoken.status_code == 200, spoken.text
    everything = (await voice_app.client.get(VOICES, headers=headers)).json()["items"]
    assert [v["id"] for v in everything[:2]] == ["voc_piper_en-us-joe-medium", "voc_kokoro_jm-kumo"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await voice_app.client.get(VOICES, params=params, headers=headers)).json()
        seen += [v["id"] for v in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [v["id"] for v in everything]


@pytest.mark.parametrize(
    "key",
    [
        ["1970-01-01T00:00:00+00:00", 1e400, 0, "a", "b"],  # infinity as the rank
        ["0001-01-01T00:00:00+01:00", 0, 0, "a", "b"],  # before year 1 in UTC
        ["1970-01-01T00:00:00+00:00", 0, 10**30, "a", "b"],  # past a 64-bit counter
        ["1970-01-01T00:00:00+00:00", 0, 2**40, "a", "b"],  # past the 32-bit uses column
        ["1970-01-01T00:00:00+00:00", 7, 0, "a", "b"],  # no such scope rank
        "not a list",
    ],
)
async def test_a_forged_cursor_is_400_not_500(voice_app: VoiceApp, key: object) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    listed = await voice_app.client.get(
        VOICES, params={"cursor": cursor}, headers=auth(voice_app.tenancy.member_a)
    )
    assert_problem(listed, 400, "invalid_cursor")


async def another_member_of_tenant_a(app: VoiceApp) -> str:
    root, tenant = auth(app.tenancy.superadmin), app.tenancy.tenant_a
    user = await app.client.post(
        f"/v1/tenants/{tenant}/users",
        json={"email": f"{unique('colleague')}@acme.com", "role": "member"},
        headers=root,
    )
    key = await app.client.post(f"/v1/users/{user.json()['id']}/keys", json={}, headers=root)
    return str(key.json()["secret"])


async def test_the_owner_keeps_their_consent_after_promotion(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """Promotion makes the voice the tenant's to edit, not the speaker's consent."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    agree = f"{VOICES}/{voice_id}/promotion/agree"
    assert (await voice_app.client.post(agree, headers=auth(t.member_a))).status_code == 200
    promote = f"{VOICES}/{voice_id}/promote"
    assert (await voice_app.client.post(promote, headers=auth(t.admin_a))).status_code == 200
    consent, revoke = f"{VOICES}/{voice_id}/consent", f"{VOICES}/{voice_id}/consent/revoke"
    colleague = await another_member_of_tenant_a(voice_app)
    assert (await voice_app.client.get(f"{VOICES}/{voice_id}", headers=auth(colleague))).is_success
    assert_problem(
        await voice_app.client.get(consent, headers=auth(colleague)), 403, "voice_not_editable"
    )
    refused = await voice_app.client.post(revoke, json={"reason": "x"}, headers=auth(colleague))
    assert_problem(refused, 403, "voice_not_editable")
    trail = await voice_app.client.get(consent, headers=auth(t.member_a))
    assert trail.status_code == 200 and trail.json()["consent"]["state"] == "active"
    revoked = await voice_app.client.post(
        revoke, json={"reason": "I withdraw"}, headers=auth(t.member_a)
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "failed"


async def test_a_search_finds_names_in_any_script_in_any_case(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """SQLite's lower() folds ASCII only: "émile" never found "Émile Øster" there."""
    t = voice_app.tenancy
    voice_id = await plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=None, scope="tenant")
    patch = {"name": "Émile Øster", "description": "ΦΩΝΗ narrator"}
    patched = await voice_app.client.patch(
        f"{VOICES}/{voice_id}", json=patch, headers=auth(t.admin_a)
    )
    assert patched.status_code == 200, patched.text
    for q in ("Émile", "émile", "ÉMILE", "øster", "φωνη"):
        found = await voice_app.client.get(
            VOICES, params={"q": q, "limit": "100"}, headers=auth(t.member_a)
        )
        assert [v["id"] for v in found.json()["items"]] == [voice_id], q


async def test_tags_match_whole_elements_in_any_script_and_wildcards_are_literal(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    voice_id = await plant_voice(voice_app, clips, tenant_id=t.tenant_a, owner=None, scope="tenant")
    patch = {"name": "Quiet_one", "tags": ["café", "narración", "calm"]}
    patched = await voice_app.client.patch(
        f"{VOICES}/{voice_id}", json=patch, headers=auth(t.admin_a)
    )
    assert patched.status_code == 200, patched.text

    async def listed(**params: str) -> dict[str, str]:
        query = {"limit": "100", **params}
        response = await voice_app.client.get(VOICES, params=query, headers=auth(t.member_a))
        assert response.status_code == 200, response.text
        return {v["id"]: f"{v['name']} {v['description']}" for v in response.json()["items"]}

    for tag in ("café", "narración", "calm"):
        assert set(await listed(tag=tag)) == {voice_id}, tag
    assert await listed(tag="caf") == {}
    everything = await listed()
    underscored = {i for i, text in everything.items() if "_" in text}
    assert voice_id in underscored and underscored != set(everything)
    assert set(await listed(q="_")) == underscored
    assert await listed(q="%") == {}
    assert await listed(language="e_") == {}


@pytest.mark.parametrize(
    "patch",
    [
        {"tags": ["x\u0000"]},  # PostgreSQL's jsonb cast then failed every tag search
        {"tags": [" "]},
        {"name": "   "},
        {"name": "two\nlines"},
        {"description": "bell\u0007"},
        {"language": "en\n"},  # "$" matched before the newline; "en\n" was stored
        {"name": "one\u2028two"},  # a Unicode line separator
        {"tags": ["abc\u202e"]},  # a bidirectional override reorders what follows
    ],
)
async def test_blank_or_control_character_fields_are_refused(
    voice_app: VoiceApp, clips: Clips, patch: dict[str, object]
) -> None:
    t = voice_app.tenancy
    own = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    refused = await voice_app.client.patch(f"{VOICES}/{own}", json=patch, headers=auth(t.member_a))
    assert refused.status_code in (400, 422), refused.text
    listed = await voice_app.client.get(
        VOICES, params={"tag": "narration"}, headers=auth(t.member_a)
    )
    assert listed.status_code == 200, listed.text


async def test_names_lose_surrounding_spaces_and_descriptions_keep_their_lines(
    voice_app: VoiceApp, clips: Clips
) -> None:
    t = voice_app.tenancy
    own = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    patch = {"name": "  Narrator ", "tags": [" warm "], "description": "Line one.\n\tTwo."}
    saved = await voice_app.client.patch(f"{VOICES}/{own}", json=patch, headers=auth(t.member_a))
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert (body["name"], body["tags"]) == ("Narrator", ["warm"])
    assert body["description"] == "Line one.\n\tTwo."


async def test_a_nul_in_a_tag_search_is_400_on_postgresql(voice_app: VoiceApp) -> None:
    """SQLite matches it like any character; PostgreSQL's jsonb refuses it (a 500 was)."""
    listed = await voice_app.client.get(
        VOICES, params={"tag": "\u0000"}, headers=auth(voice_app.tenancy.member_a)
    )
    dialect = voice_app.app.state.platform.db.engine.dialect.name
    if dialect == "postgresql":
        assert_problem(listed, 400, "bad_request")
    else:
        assert listed.status_code == 200 and listed.json()["items"] == []


async def test_a_revoked_voice_cannot_be_promoted(voice_app: VoiceApp, clips: Clips) -> None:
    """It became a tenant voice its owner could no longer delete."""
    t = voice_app.tenancy
    voice_id = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    agreed = await voice_app.client.post(
        f"{VOICES}/{voice_id}/promotion/agree", headers=auth(t.member_a)
    )
    assert agreed.status_code == 200
    revoked = await voice_app.client.post(
        f"{VOICES}/{voice_id}/consent/revoke", json={"reason": "no"}, headers=auth(t.member_a)
    )
    assert revoked.status_code == 200, revoked.text
    promoted = await voice_app.client.post(f"{VOICES}/{voice_id}/promote", headers=auth(t.admin_a))
    assert_problem(promoted, 409, "consent_revoked")
    still_mine = await voice_app.client.delete(f"{VOICES}/{voice_id}", headers=auth(t.member_a))
    assert still_mine.status_code == 204
