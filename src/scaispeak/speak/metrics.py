"""Prometheus instruments of the speech module (one registry per application)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SpeakMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.engine_rtf = Histogram(
            "scaispeak_engine_real_time_factor",
            "Engine compute seconds per second of audio produced.",
            ["engine"],
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
            registry=registry,
        )
        self.time_to_first_audio = Histogram(
            "scaispeak_time_to_first_audio_seconds",
            "From request to the first audio bytes being ready.",
            ["transport"],
            registry=registry,
        )
        self.characters = Counter(
            "scaispeak_characters_total", "Characters synthesized.", ["engine"], registry=registry
        )
        self.audio_seconds = Counter(
            "scaispeak_audio_seconds_total", "Audio produced.", ["engine"], registry=registry
        )
        self.inference_queue = Gauge(
            "scaispeak_inference_pending",
            "Engine calls running or waiting for a worker thread.",
            registry=registry,
        )
