"""Upload to `ready`, end to end: the clone intake and voice build of a real server.

    .venv/bin/python bench/clone_ready.py [--speakers "joe (piper)",kumo]

Starts `scaispeak serve` (SQLite in a temp dir, the default cloning settings: the
style-search fit with its wall-clock budget). For each speaker made from the stock
voices (tests/support/speakers.py) it asks for a consent challenge, has the speaker read
the challenge's statement and a ~19 s reference passage, POSTs both to
/voices/clone, and polls GET /voices/{id} every 0.25 s until the voice is `ready` or
`failed`. Prints the intake answer time (preflight, Whisper, speaker verification) and
the time from the start of the upload to `ready` (the issue's goal: <= 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

# The sibling script (bench/ is on sys.path when this file is run as a script).
from clone import REFERENCE, SPEAKERS
from harness import free_port, serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

from scaispeak.settings import Settings
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.piper import PiperEngine
from scaispeak.speak.synthesis.audio import encode
from tests.support.speakers import Speaker

VOICES = "/v1/modules/scaispeak/voices"
POLL_S = 0.25


def clone_once(
    client: httpx.Client, speaker: Speaker, kokoro: KokoroEngine, piper: PiperEngine
) -> tuple[float, float, str]:
    """(intake seconds, upload-to-ready seconds, final status) for one speaker."""
    challenge = client.post(f"{VOICES}/consent/challenge", json={"speaker_name": "Alex Morgan"})
    challenge.raise_for_status()
    consent, rate = speaker.say(challenge.json()["statement"], kokoro, piper)
    reference, ref_rate = speaker.say(REFERENCE, kokoro, piper)
    files = {
        "reference": ("reference.wav", encode(reference, ref_rate, "wav"), "audio/wav"),
        "consent_recording": ("consent.wav", encode(consent, rate, "wav"), "audio/wav"),
    }
    form = {"challenge_id": challenge.json()["id"], "name": f"bench {speaker.name} {time.time()}"}
    began = time.monotonic()
    made = client.post(f"{VOICES}/clone", data=form, files=files)
    intake = time.monotonic() - began
    if made.status_code != 202:
        raise SystemExit(f"{speaker.name}: intake refused: {made.status_code} {made.text[:400]}")
    voice_id = made.json()["id"]
    while True:
        voice = client.get(f"{VOICES}/{voice_id}").json()
        if voice["status"] in {"ready", "failed"}:
            return intake, time.monotonic() - began, voice["status"]
        time.sleep(POLL_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speakers", help="comma-separated names (default: joe and kumo)")
    args = parser.parse_args()
    wanted = (args.speakers or "joe (piper),kumo").split(",")
    speakers = [s for s in SPEAKERS if s.name in wanted]
    kokoro = KokoroEngine(Settings().cache_dir / "kokoro")
    piper = PiperEngine()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server, key = serve(Path(data_dir), port)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {key}"}
            print("speaker                   intake s   upload->ready s   status")
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                for speaker in speakers:
                    intake, ready, status = clone_once(client, speaker, kokoro, piper)
                    print(f"{speaker.name:24s} {intake:9.1f} {ready:17.1f}   {status}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
