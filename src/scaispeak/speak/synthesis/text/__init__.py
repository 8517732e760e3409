"""Text front end: normalise written English into speakable words and cut it into segments."""

from scaispeak.speak.synthesis.text.normalize import normalize_text
from scaispeak.speak.synthesis.text.segment import (
    IncrementalSegmenter,
    Segment,
    split_for_engine,
    split_segments,
)

__all__ = [
    "IncrementalSegmenter",
    "Segment",
    "normalize_text",
    "split_for_engine",
    "split_segments",
]
