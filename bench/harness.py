"""What the benchmarks share: a real `scaispeak serve` process with a fresh key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

EXE = Path(sys.executable).parent / "scaispeak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    data_dir: Path,
    port: int,
    extra_env: dict[str, str] | None = None,
    *flags: str,
    log_file: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Bootstrap a key, start `scaispeak serve` on ``port``, wait until it is ready.

    The server's JSON-lines log (its stderr) goes to ``log_file`` when given.
    """
    env = {
        **os.environ,
        "SCAISPEAK_DATA_DIR": str(data_dir),
        "SCAISPEAK_BOOTSTRAP_ON_START": "0",
        **(extra_env or {}),
    }
    boot = subprocess.run(
        [EXE, "admin", "bootstrap", "--json"], env=env, check=True, capture_output=True
    )
    key = json.loads(boot.stdout)["api_key"]["secret"]
    log = log_file.open("ab") if log_file else None
    process = subprocess.Popen(
        [EXE, "serve", "--port", str(port), *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    if log is not None:
        log.close()  # the child has its own descriptor
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, key
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")
