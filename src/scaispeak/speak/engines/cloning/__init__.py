"""Cloned voices: fit a voice to a reference clip (``fitter``), speak it (``engine``).

Construct once per process, sharing the running Kokoro engine::

    encoder = SpeakerEncoder()
    fitter = StyleSearchFitter(kokoro, encoder, settings.cloning)
    engine = CloneEngine(kokoro, loader, settings.cloning)   # loader(voice_id) -> bytes

``fitter.fit(pcm, rate)`` returns the blob to store; ``engine.synthesize(text, voice_id)``
speaks it. See docs/cloning.md for the method, the blob format and measured quality.
"""

from scaispeak.speak.engines.cloning.blob import BlobError, BlobVersionMismatch, VoiceBlob
from scaispeak.speak.engines.cloning.engine import BlobLoader, CloneEngine
from scaispeak.speak.engines.cloning.fitter import (
    FitReport,
    ReferenceRejected,
    StyleSearchFitter,
    VoiceFitter,
)
from scaispeak.speak.engines.cloning.speakers import SpeakerEncoder, cosine
from scaispeak.speak.engines.cloning.stock import StockVoices

__all__ = [
    "BlobError",
    "BlobLoader",
    "BlobVersionMismatch",
    "CloneEngine",
    "FitReport",
    "ReferenceRejected",
    "SpeakerEncoder",
    "StockVoices",
    "StyleSearchFitter",
    "VoiceBlob",
    "VoiceFitter",
    "cosine",
]
