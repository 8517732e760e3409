"""`scaispeak worker --ops-port`: the health, readiness and metrics an orchestrator
and Prometheus need from a worker, which serves no API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.redis_probe import REDIS_URL
from tests.support.server import free_port

EXE = str(Path(sys.executable).parent / "scaispeak")


def worker_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SCAISPEAK_DATA_DIR": str(data_dir),
        "SCAISPEAK_DATABASE_URL": database_url,
        "SCAISPEAK_REDIS_URL": REDIS_URL,
        "SCAISPEAK_SECRET_KEY": "worker-ops-test-secret-0123456789",
        "SCAISPEAK_ENGINES__ENABLED": '["piper"]',
        "SCAISPEAK_ENGINES__INFERENCE_THREADS": "1",
        "SCAISPEAK_JOBS__QUEUE_NAME": f"scaispeak-test-{uuid.uuid4().hex[:8]}",
    }


def _redis_answers() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except (OSError, redis.RedisError):
        return False
    return True


@pytest.fixture
def env(tmp_path: Path, own_postgres_url: str) -> dict[str, str]:
    if not _redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    return worker_env(tmp_path, own_postgres_url)


def wait_for_readiness(base: str, worker: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited"
        try:
            ready = httpx.get(f"{base}/readyz", timeout=5)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if ready.status_code == 200:
            return ready
        assert ready.status_code == 503 and ready.json()["checks"]["startup"] is False
        time.sleep(0.2)
    raise AssertionError("the worker never became ready")


def test_a_worker_serves_health_readiness_and_metrics(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [EXE, "worker", "--ops-port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for_readiness(base, worker)
        assert ready.json()["checks"] == {
            "startup": True,
            "database": True,
            "storage": True,
            "redis": True,
        }
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        metrics = httpx.get(f"{base}/metrics").text
        assert 'scaispeak_jobs{state="queued"} 0.0' in metrics
        assert "scaispeak_inference_pending" in metrics  # the worker's engine metrics
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert "worker" in (tmp_path / "worker.log").read_text()


def test_a_worker_whose_ops_port_is_taken_says_so(env: dict[str, str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [EXE, "worker", "--ops-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert refused.returncode != 0
    assert f"error: cannot serve health endpoints on 127.0.0.1:{port}" in refused.stderr
