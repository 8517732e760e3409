"""Health, readiness, metrics, request limits, schema drift and documented settings."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scaispeak.platform.ops_server import UNREAD_SEND_MAX_MS, listening_socket
from scaispeak.schema import metadata
from scaispeak.settings import JobSettings, Limits, Settings
from scaispeak.settings_doc import settings_reference
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem

ROOT = Path(__file__).resolve().parents[2]


async def test_health_and_readiness(live: LiveApp) -> None:
    assert (await live.client.get("/healthz")).json() == {"status": "ok"}
    ready = await live.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "startup": True,
        "database": True,
        "storage": True,
    }


async def test_metrics_expose_engine_rtf_and_time_to_first_audio(live: LiveApp) -> None:
    spoken = await live.client.post(
        "/v1/modules/scaispeak/speak",
        json={"text": "Count me in the metrics.", "voice_id": "voc_piper_en-us-joe-medium"},
        headers=live.auth(live.tenancy.member_a),
    )
    assert spoken.status_code == 200
    body = (await live.client.get("/metrics")).text
    assert 'scaispeak_engine_real_time_factor_count{engine="piper"}' in body
    assert 'scaispeak_time_to_first_audio_seconds_count{transport="http"}' in body
    assert "scaispeak_http_request_seconds_bucket" in body
    assert "scaispeak_inference_pending" in body


async def test_oversized_json_body_is_413(live: LiveApp) -> None:
    limit = live.app.state.platform.settings.limits.max_json_bytes
    response = await live.client.post(
        "/v1/modules/scaispeak/speak",
        content=b'{"text": "' + b"a" * limit + b'"}',
        headers={**live.auth(live.tenancy.member_a), "content-type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")


def test_the_default_body_limit_holds_a_jobs_longest_text_in_any_script() -> None:
    """Japanese voices take jobs too: 500,000 characters, JSON-escaped as \\uXXXX."""
    text = "語" * JobSettings().max_chars
    body = json.dumps({"text": text, "voice_id": "voc_kokoro_jf-alpha", "mode": "async"})
    assert len(body.encode()) <= Limits().max_json_bytes


async def test_migrations_match_the_models(live: LiveApp) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with live.app.state.platform.db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def test_configuration_doc_lists_every_setting() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert documented == settings_reference(), (
        "run: python -m scaispeak.settings_doc > docs/configuration.md"
    )


async def test_json_files_uploaded_to_the_drive_skip_the_json_body_limit(live: LiveApp) -> None:
    limit = live.app.state.platform.settings.limits.max_json_bytes
    headers = live.auth(live.tenancy.member_a)
    share = (await live.client.post("/v1/drive/shares", json={"name": "j"}, headers=headers)).json()
    big = b'{"data": "' + b"x" * limit + b'"}'
    stored = await live.client.put(
        f"/v1/drive/shares/{share['id']}/files/big.json",
        content=big,
        headers=headers | {"content-type": "application/json"},
    )
    assert stored.status_code == 201, stored.text


def test_processes_sharing_work_refuse_to_start_without_one_secret_key(tmp_path: Path) -> None:
    """Each would sign tokens and webhook events with a key of its own data directory."""
    shared = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/5")
    with pytest.raises(RuntimeError, match="SCAISPEAK_SECRET_KEY must be set"):
        shared.resolved_secret_key()
    assert not (tmp_path / "secret.key").exists()
    alone = Settings(data_dir=tmp_path)  # one machine: a key is made and kept on disk
    assert alone.resolved_secret_key() == alone.resolved_secret_key()
    key_file = tmp_path / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]  # nothing staged left


def test_processes_starting_together_agree_on_the_generated_key(tmp_path: Path) -> None:
    """Each may find no key and make one: the first to link it into place wins (each
    used to keep the key it wrote, or read another's half-written)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        for attempt in range(20):
            data_dir = tmp_path / str(attempt)
            starting = [Settings(data_dir=data_dir) for _ in range(8)]
            keys = set(pool.map(Settings.resolved_secret_key, starting))
            assert len(keys) == 1 and "" not in keys


def test_a_configured_secret_key_too_short_to_be_safe_is_refused(tmp_path: Path) -> None:
    """HMAC-SHA256 with "changeme": one token or webhook signature gives the key away."""
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        Settings(data_dir=tmp_path, secret_key="changeme").resolved_secret_key()
    long_enough = "k" * 32
    assert Settings(data_dir=tmp_path, secret_key=long_enough).resolved_secret_key() == long_enough


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux only")
def test_accepted_connections_drop_a_client_that_stops_reading() -> None:
    """A client that stopped reading kept its connection (and megabytes queued on it)
    open for good, and a graceful stop waited on it (helper-66)."""
    listening = listening_socket("127.0.0.1", 0)
    with listening, socket.create_connection(listening.getsockname()):
        accepted, _ = listening.accept()
        with accepted:
            bound = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
    assert bound == UNREAD_SEND_MAX_MS > 0
