"""A tenant whose policy allows only the self-hosted backend never has its text sent
to the relay: the relay is registered as an engine, but no voice may name it."""

from __future__ import annotations

from pathlib import Path

from scaispeak.settings import RelaySettings
from scaispeak.speak.backends.catalog import SELFHOSTED, BackendCatalog
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from scaispeak.speak.voices.models import Voice, VoiceScope
from tests.platform.test_auth import assert_problem
from tests.speak.voices.test_global_voices import licensed_voice
from tests.support.relay import relaying_app
from tests.support.server import free_port


def test_a_voice_naming_the_relay_engine_has_no_self_hosted_route(
    engines: EngineRegistry,
) -> None:
    relay = RelayEngine(RelaySettings(base_url=f"http://127.0.0.1:{free_port()}/v1"))
    catalog = BackendCatalog(engines.extended(relay), relay)
    voice = Voice(scope=VoiceScope.global_, engine="relay", engine_voice="alloy")
    assert catalog.route(SELFHOSTED, voice) is None
    piper = Voice(scope=VoiceScope.global_, engine="piper", engine_voice="en_US-joe-medium")
    assert catalog.route(SELFHOSTED, piper) is not None


async def test_a_global_voice_may_not_name_the_relay_engine(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with relaying_app(tmp_path, engines, dead, "x") as app:
        body = {**licensed_voice(), "engine": "relay", "engine_voice": "alloy"}
        made = await app.client.post(
            "/v1/modules/scaispeak/voices/global",
            json=body,
            headers=app.auth(app.tenancy.superadmin),
        )
        assert_problem(made, 400, "bad_request")
