"""A voice clone is accounted: its price held before the intake's checks, charged as a
'clone' ledger line when the voice is made, given back when the intake is refused."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from scaispeak.platform.accounting.models import Reservation, ReservationState, UsageEntry
from scaispeak.settings import VoicesSettings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import Clips, VoiceApp, auth, post_clone, voice_app_for

PRICE = 2_000_000


async def set_budget(app: VoiceApp, limit_micros: int) -> None:
    t = app.tenancy
    made = await app.client.put(
        f"/v1/tenants/{t.tenant_a}/budget",
        json={"period": "month", "limit_micros": limit_micros},
        headers=auth(t.superadmin),
    )
    assert made.status_code == 200, made.text


async def ledger(app: VoiceApp) -> list[UsageEntry]:
    async with app.app.state.platform.db.sessions() as session:
        rows = await session.scalars(
            select(UsageEntry).where(UsageEntry.tenant_id == app.tenancy.tenant_a)
        )
        return list(rows)


async def holds(app: VoiceApp) -> list[ReservationState]:
    async with app.app.state.platform.db.sessions() as session:
        rows = await session.scalars(
            select(Reservation.state).where(Reservation.tenant_id == app.tenancy.tenant_a)
        )
        return list(rows)


async def test_a_clone_is_charged_once_made_and_refused_over_budget(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    settings = make_settings(tmp_path, voices=VoicesSettings(clone_price_micros=PRICE))
    async with voice_app_for(settings, engines) as app:
        key = app.tenancy.member_a
        await set_budget(app, PRICE + PRICE // 2)
        made = await post_clone(app, key, clips.wav(clips.reference), clips.wav(clips.genuine))
        assert made.status_code == 202, made.text
        [line] = await ledger(app)
        assert (line.kind, line.backend, line.cost_micros) == ("clone", "clone", PRICE)
        assert line.voice_id == made.json()["id"] and line.audio_seconds > 5
        # Half the price is left: the next intake is refused before any analysis.
        refused = await post_clone(app, key, b"RIFF", b"RIFF")
        assert_problem(refused, 402, "budget_exceeded")
        assert await holds(app) == [ReservationState.settled]


async def test_a_refused_intake_costs_nothing(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    settings = make_settings(tmp_path, voices=VoicesSettings(clone_price_micros=PRICE))
    async with voice_app_for(settings, engines) as app:
        await set_budget(app, 10 * PRICE)
        wav = clips.wav(clips.reference)
        refused = await post_clone(app, app.tenancy.member_a, wav, wav)  # no consent spoken
        assert refused.status_code == 422, refused.text
        assert await ledger(app) == []
        assert await holds(app) == [ReservationState.released]


async def test_a_free_clone_is_recorded_even_past_a_spent_budget(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    """At a price of 0 a hold of nothing was still refused once the tenant's spending
    stood above its limit (a budget lowered below what was spent)."""
    app = sqlite_voice_app
    await set_budget(app, 1_000_000)
    spoken = await app.client.post(
        "/v1/modules/scaispeak/speak",
        json={"text": "Something worth paying for.", "voice_id": "voc_piper_en-us-joe-medium"},
        headers=auth(app.tenancy.member_a),
    )
    assert spoken.status_code == 200, spoken.text
    await set_budget(app, 1)  # spent is now above the limit
    made = await post_clone(
        app, app.tenancy.member_a, clips.wav(clips.reference), clips.wav(clips.genuine)
    )
    assert made.status_code == 202, made.text
    clone_lines = [line for line in await ledger(app) if line.kind == "clone"]
    assert [(line.voice_id, line.cost_micros) for line in clone_lines] == [(made.json()["id"], 0)]
