"""Raw engine real-time factor vs. the service's /speak, for both engines, in one run.

    .venv/bin/python bench/speak.py [--repeats 5]

Starts a real `scaispeak serve` on a free port (SQLite in a temp dir), then for each
engine times (a) the engine alone synthesizing the normalised paragraph in this
process and (b) POST /speak (wav, the engine's own rate) for the same paragraph
over loopback HTTP. Prints medians and ratio = /speak wall time / raw engine time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from harness import free_port, serve

from scaispeak.settings import Settings
from scaispeak.speak.engines.registry import build_engines
from scaispeak.speak.synthesis.text import normalize_text

PARAGRAPH = (
    "The harbour was quiet when the first boats came back. Fishermen unloaded their catch, "
    "counted crates and argued about the weather, while gulls circled above the cranes. "
    "By seven o'clock the market had opened, and buyers from three towns walked between "
    "the stalls, tasting, haggling and writing numbers in small notebooks. Nobody noticed "
    "the stranger who sat on the sea wall, watching the water as if he expected something "
    "to rise from it."
)
VOICES = {
    "piper": ("en_US-joe-medium", "voc_piper_en-us-joe-medium"),
    "kokoro": ("jf_alpha", "voc_kokoro_jf-alpha"),
}


def time_raw(engine_name: str, voice: str, repeats: int) -> tuple[float, float]:
    engine = build_engines(Settings(data_dir=Path(tempfile.mkdtemp()))).get(engine_name)
    engine.warm()
    text = normalize_text(PARAGRAPH)
    engine.synthesize(text, voice)  # warm-up: first call allocates
    times, audio_s = [], 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        pcm = engine.synthesize(text, voice)
        times.append(time.perf_counter() - started)
        audio_s = len(pcm) / engine.sample_rate
    return statistics.median(times), audio_s


def time_service(url: str, key: str, voice_id: str, repeats: int) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"text": PARAGRAPH, "voice_id": voice_id, "format": "wav"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        client.post("/v1/modules/scaispeak/speak", json=body).raise_for_status()
        times, audio_s = [], 0.0
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.post("/v1/modules/scaispeak/speak", json=body)
            times.append(time.perf_counter() - started)
            response.raise_for_status()
            audio_s = float(response.headers["x-scaispeak-audio-seconds"])
    return statistics.median(times), audio_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server, key = serve(Path(data), port)
        try:
            print(f"paragraph: {len(PARAGRAPH)} characters, {args.repeats} repeats, medians")
            print(
                f"{'engine':8} {'audio s':>8} {'raw s':>7} {'raw RTF':>8} {'x realtime':>10} "
                f"{'/speak s':>9} {'ratio':>6}"
            )
            for engine, (voice, voice_id) in VOICES.items():
                raw_s, raw_audio = time_raw(engine, voice, args.repeats)
                svc_s, svc_audio = time_service(
                    f"http://127.0.0.1:{port}", key, voice_id, args.repeats
                )
                print(
                    f"{engine:8} {raw_audio:8.2f} {raw_s:7.3f} {raw_s / raw_audio:8.4f} "
                    f"{raw_audio / raw_s:10.1f} {svc_s:9.3f} {svc_s / raw_s:6.3f}"
                    f"   (service audio {svc_audio:.2f} s, with pauses)"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
