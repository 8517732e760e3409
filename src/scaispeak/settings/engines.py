"""How synthesis runs: the self-hosted engines, the relay, and which backend serves."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class EngineSettings(BaseModel):
    """How the self-hosted engines run."""

    enabled: tuple[str, ...] = Field(("piper", "kokoro"), description="Engines loaded at start-up.")
    inference_threads: int = Field(
        2, ge=1, description="Worker threads that run inference off the event loop."
    )
    onnx_intra_op_threads: int = Field(
        0, ge=0, description="onnxruntime intra-op threads per session (0 = library default)."
    )
    first_audio_reserved_threads: int = Field(
        1,
        ge=0,
        description="Inference threads only a stream's first clause may use, so it never waits"
        " for another stream's long segment (capped at inference_threads - 1).",
    )
    max_clause_chars: int = Field(
        220, ge=20, description="Sentences longer than this are split at clause boundaries."
    )
    max_engine_chars: int = Field(
        300,
        ge=50,
        description="Longest normalised text one engine call renders; a longer segment (an "
        "unbroken token such as a key or a hash) is rendered in pieces, so memory stays "
        "bounded.",
    )
    sentence_pause_ms: int = Field(
        250, ge=0, le=10_000, description="Silence inserted between sentences."
    )
    clause_pause_ms: int = Field(
        120, ge=0, le=10_000, description="Silence inserted between clauses."
    )
    target_lufs: float = Field(
        -20.0, ge=-70, le=-5, description="Loudness the output is normalised to (LUFS)."
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu",
        description="Where Piper runs: `cpu` = onnxruntime; `cuda` = the PyTorch engine with "
        "dynamic batching (docs/gpu.md); `auto` = `cuda` when PyTorch sees a GPU.",
    )
    torch_max_batch: int = Field(
        64,
        ge=1,
        description="PyTorch engine: most sentences in one batch (raise inference_threads too).",
    )
    torch_batch_window_ms: float = Field(
        5.0, ge=0, description="PyTorch engine: how long an idle device waits to fill a batch."
    )
    torch_bucket_width: int = Field(
        32,
        ge=1,
        description="PyTorch engine: sentences batch together when their phoneme counts "
        "fall in the same band of this width.",
    )
    torch_max_waiting: int = Field(
        4096,
        ge=1,
        description="PyTorch engine: sentences of new callers that may wait for the GPU; "
        "past it a new request or stream is refused (503 server_busy), while those under "
        "way and jobs still queue.",
    )
    torch_decoder_dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto",
        description="PyTorch engine: precision of the decoder; `auto` = float16 on CUDA, "
        "float32 on the CPU (docs/gpu.md has the SNR of each).",
    )


class RelaySettings(BaseModel):
    """The upstream OpenAI-compatible /v1/audio/speech service behind the `relay` backend."""

    base_url: str | None = Field(
        None, description="Upstream base URL, e.g. https://host/v1 (relay off when unset)."
    )
    api_key: str | None = Field(None, description="Bearer key sent upstream.")
    model: str = Field("tts-1", description="`model` sent upstream.")
    voice_map: dict[str, str] = Field(
        default_factory=dict,
        description="Our voice id -> upstream voice name (JSON). Unmapped global voices "
        "pass their id through when relay_global_voices is on.",
    )
    relay_global_voices: bool = Field(
        True, description="Offer unmapped global voices upstream under their own id."
    )
    supports_cloned_voices: bool = Field(
        False, description="Whether the upstream can speak our cloned (tenant/user) voices."
    )
    upstream_watermarks: bool = Field(
        False,
        description="The upstream already embeds ScaiSpeak's provenance watermark (another "
        "ScaiSpeak with watermarking on for these voices): relayed audio that is to be "
        "marked is not marked a second time. Provenance is still recorded here.",
    )
    upstream_levels: bool = Field(
        False,
        description="The upstream's audio is already levelled to this service's target "
        "loudness and ceiling (another ScaiSpeak with the same target_lufs). With "
        "upstream_watermarks (or marking off for the voice), inline pcm or wav at 24 kHz is "
        "then passed through as it arrives instead of being buffered and levelled here.",
    )
    max_input_chars: int = Field(
        4096,
        gt=0,
        description="The longest input the upstream takes in one request (OpenAI: 4096); "
        "longer inline text is relayed sentence by sentence.",
    )
    connect_timeout_s: float = Field(2.0, gt=0, description="Upstream connect timeout.")
    read_timeout_s: float = Field(60.0, gt=0, description="Upstream read timeout.")
    call_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Longest one upstream call may take, its whole answer read (an upstream"
        " that keeps sending a little at a time would otherwise hold the request forever).",
    )
    retries: int = Field(
        2, ge=0, description="Retries for safe failures only (connect errors, 429/502/503/504)."
    )
    retry_base_ms: int = Field(100, ge=0, description="Base of the jittered exponential backoff.")
    max_connections: int = Field(
        0,
        ge=0,
        description="Most connections open to the upstream at once; 0 = no cap of the "
        "relay's own (the tenants' request and stream limits bound its calls). With a cap, "
        "calls beyond it wait for a connection within `call_timeout_s`.",
    )
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures that open the circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        10.0, ge=0, description="How long an open circuit refuses calls before one trial call."
    )


class BackendSettings(BaseModel):
    default: str = Field("selfhosted", description="Backend used when policy names none.")
    relay: RelaySettings = Field(default_factory=RelaySettings)
