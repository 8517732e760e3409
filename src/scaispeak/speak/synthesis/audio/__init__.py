"""Audio post-processing and encoding for synthesized speech.

:mod:`.dsp` works on mono float32 PCM (resampling, loudness, fades, joining);
:mod:`.codecs` turns that PCM into the output formats, as whole files or streams.
"""

from scaispeak.speak.synthesis.audio.codecs import (
    AudioFormat,
    CodecError,
    EncodingFailed,
    FileEncoder,
    StreamEncoder,
    UnsupportedFormat,
    UnsupportedSampleRate,
    allowed_sample_rates,
    content_type,
    default_sample_rate,
    encode,
    file_extension,
    mulaw_encode,
    parse_format,
    validate_sample_rate,
    wav_header,
)
from scaispeak.speak.synthesis.audio.dsp import (
    MAX_GAIN_DB,
    PEAK_CEILING_DBFS,
    fade_edges,
    integrated_loudness,
    join_segments,
    normalize_loudness,
    resample,
    silence,
    to_int16,
    to_int16_bytes,
)

__all__ = [
    "MAX_GAIN_DB",
    "PEAK_CEILING_DBFS",
    "AudioFormat",
    "CodecError",
    "EncodingFailed",
    "FileEncoder",
    "StreamEncoder",
    "UnsupportedFormat",
    "UnsupportedSampleRate",
    "allowed_sample_rates",
    "content_type",
    "default_sample_rate",
    "encode",
    "fade_edges",
    "file_extension",
    "integrated_loudness",
    "join_segments",
    "mulaw_encode",
    "normalize_loudness",
    "parse_format",
    "resample",
    "silence",
    "to_int16",
    "to_int16_bytes",
    "validate_sample_rate",
    "wav_header",
]
