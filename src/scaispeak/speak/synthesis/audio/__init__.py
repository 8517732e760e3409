"""Audio post-processing and encoding for synthesized speech.

:mod:`.dsp` works on mono float32 PCM (resampling, fades, joining); :mod:`.loudness`
measures and levels it (BS.1770, the peak limiter); :mod:`.codecs` turns that PCM into
the output formats, as whole files or streams; :mod:`.wav` writes WAV headers (RIFF, or
RF64 past 4 GiB).
"""

from scaispeak.speak.synthesis.audio.codecs import (
    ARITHMETIC_FORMATS,
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
)
from scaispeak.speak.synthesis.audio.dsp import (
    StreamResampler,
    crossfade_into,
    fade_edges,
    fade_in,
    fade_out,
    from_int16_bytes,
    join_segments,
    joined_length,
    resample,
    resampled_length,
    shape_segment,
    silence,
    to_int16,
    to_int16_bytes,
)
from scaispeak.speak.synthesis.audio.loudness import (
    MAX_GAIN_DB,
    PEAK_CEILING_DBFS,
    apply_gain,
    integrated_loudness,
    level_gain_db,
    limit_to_ceiling,
    normalize_loudness,
)
from scaispeak.speak.synthesis.audio.wav import wav_header

__all__ = [
    "ARITHMETIC_FORMATS",
    "MAX_GAIN_DB",
    "PEAK_CEILING_DBFS",
    "AudioFormat",
    "CodecError",
    "EncodingFailed",
    "FileEncoder",
    "StreamEncoder",
    "StreamResampler",
    "UnsupportedFormat",
    "UnsupportedSampleRate",
    "allowed_sample_rates",
    "apply_gain",
    "content_type",
    "crossfade_into",
    "default_sample_rate",
    "encode",
    "fade_edges",
    "fade_in",
    "fade_out",
    "file_extension",
    "from_int16_bytes",
    "integrated_loudness",
    "join_segments",
    "joined_length",
    "level_gain_db",
    "limit_to_ceiling",
    "mulaw_encode",
    "normalize_loudness",
    "parse_format",
    "resample",
    "resampled_length",
    "shape_segment",
    "silence",
    "to_int16",
    "to_int16_bytes",
    "validate_sample_rate",
    "wav_header",
]
