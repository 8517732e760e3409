"""Throughput of long jobs (audio seconds per wall second) vs. the raw engine, in one run.

    .venv/bin/python bench/jobs.py [--chars 20000]

1. raw: the Piper engine alone speaks the text sentence by sentence in this process;
2. embedded: `scaispeak serve` (SQLite, in-process queue) runs one job of that text;
3. distributed: PostgreSQL + Redis, an API process with `--no-worker` and two
   `scaispeak worker` processes run two such jobs at once (aggregate throughput).
Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and Redis on 127.0.0.1:6379 for (3).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from harness import EXE, free_port, serve

from scaispeak.settings import EngineSettings, Settings
from scaispeak.speak.engines.registry import build_engines
from scaispeak.speak.synthesis.text import normalize_text, split_segments

SENTENCES = [
    "The committee met on a grey morning to discuss the harbour's future.",
    "Several members argued that the old warehouses should become housing.",
    "Others wanted a market, a museum, or simply more space for boats.",
    "By noon they had agreed on nothing except the need for another meeting.",
]
PIPER = {"SCAISPEAK_ENGINES__ENABLED": '["piper"]'}


def long_text(chars: int) -> str:
    out: list[str] = []
    while sum(len(s) + 1 for s in out) < chars:
        out.append(SENTENCES[len(out) % len(SENTENCES)])
    return " ".join(out)


def raw_throughput(text: str) -> float:
    engines = build_engines(
        Settings(data_dir=Path(tempfile.mkdtemp()), engines=EngineSettings(enabled=("piper",)))
    )
    engine = engines.get("piper")
    engine.warm()
    started, audio = time.perf_counter(), 0.0
    for segment in split_segments(text):
        audio += len(engine.synthesize(normalize_text(segment.text), "en_US-joe-medium")) / 22050
    return audio / (time.perf_counter() - started)


def run_jobs(base: str, key: str, text: str, count: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"text": text, "voice_id": "voc_piper_en-us-joe-medium", "mode": "async"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        ids = [
            client.post("/v1/modules/scaispeak/speak", json=body).json()["id"] for _ in range(count)
        ]
        audio = 0.0
        for job_id in ids:
            while (job := client.get(f"/v1/modules/scaispeak/jobs/{job_id}").json())[
                "state"
            ] not in ("succeeded", "failed"):
                time.sleep(0.5)
            assert job["state"] == "succeeded", job
            audio += job["audio_seconds"]
        return audio / (time.perf_counter() - started)


def embedded(text: str) -> float:
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        server, key = serve(Path(data), port, PIPER)
        try:
            return run_jobs(f"http://127.0.0.1:{port}", key, text, 1)
        finally:
            server.terminate()
            server.wait(timeout=30)


def distributed(text: str) -> float:
    name = f"bench_jobs_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    env = {
        **PIPER,
        "SCAISPEAK_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
        "SCAISPEAK_REDIS_URL": "redis://127.0.0.1:6379/0",
        "SCAISPEAK_SECRET_KEY": f"bench-{name}",
        "SCAISPEAK_JOBS__QUEUE_NAME": name,
        "SCAISPEAK_JOBS__CONCURRENCY": "1",
    }
    try:
        with tempfile.TemporaryDirectory() as data:
            port = free_port()
            api, key = serve(Path(data), port, env, "--no-worker")
            full_env = {**os.environ, "SCAISPEAK_DATA_DIR": data, **env}
            workers = [
                subprocess.Popen(
                    [EXE, "worker"],
                    env=full_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(2)
            ]
            try:
                return run_jobs(f"http://127.0.0.1:{port}", key, text, 2)
            finally:
                for process in [*workers, api]:
                    process.terminate()
                    process.wait(timeout=30)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, default=20_000)
    args = parser.parse_args()
    text = long_text(args.chars)
    raw = raw_throughput(text)
    print(f"text: {len(text)} characters, piper; throughput = audio seconds per wall second")
    print(f"raw engine, one process        {raw:7.1f}")
    one = embedded(text)
    print(f"embedded, one job              {one:7.1f}   ratio to raw {one / raw:.2f}")
    two = distributed(text)
    print(f"distributed, 2 workers, 2 jobs {two:7.1f}   ratio to raw {two / raw:.2f}")


if __name__ == "__main__":
    main()
