"""Every setting and limit of the service, in one place.

Each field reads from the environment as ``SCAISPEAK_<NAME>`` (nested groups use
``__``, e.g. ``SCAISPEAK_LIMITS__INLINE_MAX_CHARS``). ``docs/configuration.md`` lists
them; nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Limits(BaseModel):
    """Request limits. Documented in docs/configuration.md."""

    inline_max_chars: int = Field(
        5_000, description="Longest text /speak synthesizes inline (characters)."
    )
    openai_max_chars: int = Field(
        4_096, description="Longest `input` accepted by /v1/audio/speech (OpenAI's own limit)."
    )
    max_json_bytes: int = Field(
        1_000_000, description="Largest JSON request body accepted (413 above it)."
    )
    min_speed: float = Field(0.5, description="Slowest speaking rate accepted.")
    max_speed: float = Field(2.0, description="Fastest speaking rate accepted.")
    sample_rates: tuple[int, ...] = Field(
        (8_000, 16_000, 22_050, 24_000, 44_100, 48_000),
        description="Output sample rates a caller may request.",
    )
    page_size_max: int = Field(100, description="Largest page size for list endpoints.")
    token_ttl_seconds: int = Field(
        300, description="Lifetime of browser tokens from POST /v1/auth/tokens (max)."
    )
    drive_upload_max_bytes: int = Field(
        1024**3, description="Largest file one drive upload may store (413 above it)."
    )


class EngineSettings(BaseModel):
    """How the self-hosted engines run."""

    enabled: tuple[str, ...] = Field(("piper", "kokoro"), description="Engines loaded at start-up.")
    inference_threads: int = Field(
        2, description="Worker threads that run inference off the event loop."
    )
    onnx_intra_op_threads: int = Field(
        0, description="onnxruntime intra-op threads per session (0 = library default)."
    )
    first_audio_reserved_threads: int = Field(
        1,
        ge=0,
        description="Inference threads only a stream's first clause may use, so it never waits"
        " for another stream's long segment (capped at inference_threads - 1).",
    )
    max_clause_chars: int = Field(
        220, description="Sentences longer than this are split at clause boundaries."
    )
    sentence_pause_ms: int = Field(250, description="Silence inserted between sentences.")
    clause_pause_ms: int = Field(120, description="Silence inserted between clauses.")
    target_lufs: float = Field(-20.0, description="Loudness the output is normalised to.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "cpu",
        description="Where Piper runs: `cpu` = onnxruntime; `cuda` = the PyTorch engine with "
        "dynamic batching (docs/gpu.md); `auto` = `cuda` when PyTorch sees a GPU.",
    )
    torch_max_batch: int = Field(
        64, description="PyTorch engine: most sentences in one batch (raise inference_threads too)."
    )
    torch_batch_window_ms: float = Field(
        5.0, description="PyTorch engine: how long an idle device waits to fill a batch."
    )
    torch_bucket_width: int = Field(
        32,
        description="PyTorch engine: sentences batch together when their phoneme counts "
        "fall in the same band of this width.",
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
    connect_timeout_s: float = Field(2.0, description="Upstream connect timeout.")
    read_timeout_s: float = Field(60.0, description="Upstream read timeout.")
    retries: int = Field(
        2, description="Retries for safe failures only (connect errors, 429/502/503/504)."
    )
    retry_base_ms: int = Field(100, description="Base of the jittered exponential backoff.")
    breaker_failures: int = Field(
        5, description="Consecutive failures that open the circuit breaker."
    )
    breaker_cooldown_s: float = Field(
        10.0, description="How long an open circuit refuses calls before one trial call."
    )


class AccountingSettings(BaseModel):
    """Prices and per-tenant traffic limits."""

    prices_micros_per_char: dict[str, int] = Field(
        default_factory=lambda: {"selfhosted": 15, "relay": 30},
        description="Price per character by backend, in micro-credits (JSON).",
    )
    max_concurrent_per_tenant: int = Field(
        16, description="Synthesis requests a tenant may run at once (429 above)."
    )
    requests_per_minute_per_tenant: int = Field(
        600, description="Requests a tenant may start per minute (429 above)."
    )
    stale_reservation_s: int = Field(
        3600, description="Budget holds older than this are released at start-up."
    )


class JobSettings(BaseModel):
    """Asynchronous synth jobs (docs/jobs.md)."""

    max_chars: int = Field(500_000, description="Longest text a job accepts (hard limit).")
    lease_s: int = Field(
        60, description="A worker's claim on a job; renewed at every finished segment."
    )
    sweep_interval_s: float = Field(
        5.0, description="How often a worker looks for jobs whose worker died."
    )
    requeue_after_s: int = Field(
        120, description="A queued job not started after this long is handed to the queue again."
    )
    concurrency: int = Field(2, description="Jobs one worker process runs at once.")
    queue_name: str = Field("scaispeak-jobs", description="Redis stream the jobs travel on.")
    redelivery_idle_ms: int = Field(
        300_000, description="Unacknowledged Redis messages idle this long are redelivered."
    )
    webhook_attempts: int = Field(5, description="Deliveries tried per webhook event.")
    webhook_backoff_s: float = Field(
        2.0, description="First retry delay; doubles each attempt, with jitter."
    )
    webhook_timeout_s: float = Field(10.0, description="Timeout of one webhook delivery.")


class BackendSettings(BaseModel):
    default: str = Field("selfhosted", description="Backend used when policy names none.")
    relay: RelaySettings = Field(default_factory=RelaySettings)


class StreamingSettings(BaseModel):
    """Real-time streaming (WebSocket /stream/speak). Documented in docs/streaming.md."""

    max_streams_per_tenant: int = Field(
        8,
        description="Streams one tenant may hold open at once (too_many_streams); with Redis"
        " the count spans every API replica, else this process.",
    )
    shared_slot_ttl_s: float = Field(
        60.0,
        gt=0,
        description="With Redis: a stream slot lapses this long after its replica stops"
        " renewing it (a crashed replica frees its tenants' slots within this time).",
    )
    max_text_chars: int = Field(
        100_000, description="Text one stream may send in total (text_too_long above it)."
    )
    min_segment_chars: int = Field(
        12,
        description="Shortest first clause spoken early; shorter fragments merge with a neighbour.",
    )
    max_wait_chars: int = Field(
        160, description="Buffered characters without a sentence end before a clause is cut."
    )
    max_wait_ms: int = Field(
        700,
        description="How long buffered text waits for a boundary before its whole words speak.",
    )
    idle_timeout_seconds: float = Field(
        60.0, description="A stream with nothing to say and no message for this long is closed."
    )
    frame_ms: int = Field(100, description="Audio carried by one binary frame.")
    hold_chars: int = Field(
        2_000,
        description="Budget held per step of a stream (characters x price); topped up "
        "as the text grows, settled at the end for the audio delivered.",
    )
    max_buffered_audio_seconds: float = Field(
        4.0,
        description="Audio made but not yet sent before synthesis pauses (slow readers).",
    )


class IceServer(BaseModel):
    """One STUN or TURN server offered to WebRTC peers (RTCIceServer's fields)."""

    urls: list[str] = Field(description="e.g. ['stun:stun.example.com:3478'].")
    username: str | None = Field(None, description="TURN user name.")
    credential: str | None = Field(None, description="TURN password.")


class WebRtcSettings(BaseModel):
    """WebRTC streaming sessions (/stream/speak/webrtc/sessions). See docs/streaming.md."""

    ice_servers: list[IceServer] = Field(
        default_factory=list,
        description="STUN/TURN servers as JSON, e.g. "
        '`[{"urls": ["stun:stun.example.com:3478"]}]`; none: host candidates only.',
    )
    connect_timeout_seconds: float = Field(
        20.0, description="A session whose peer has not opened its data channel by then is closed."
    )
    playout_lead_ms: int = Field(
        120,
        description="Audio queued on the track ahead of real time; more waits (backpressure), "
        "and a cancel discards at most this much plus one frame.",
    )


class VoicesSettings(BaseModel):
    """Voice intake: upload caps, preflight limits, consent and verification thresholds.

    Thresholds are calibrated in docs/voices.md (bench/speaker_threshold.py).
    """

    upload_max_bytes: int = Field(
        25 * 1024**2, description="Largest audio upload for preflight or intake (413 above it)."
    )
    document_max_bytes: int = Field(
        10 * 1024**2, description="Largest consent or licence document upload (413 above it)."
    )
    decode_max_seconds: float = Field(
        60.0, description="Longest audio decoded from an upload (rejected above it)."
    )
    decode_timeout_s: float = Field(
        10.0, description="Wall-clock budget for decoding one upload (rejected above it)."
    )
    reference_min_s: float = Field(5.0, description="Shortest reference clip accepted.")
    reference_max_s: float = Field(25.0, description="Longest reference clip accepted.")
    consent_min_s: float = Field(2.0, description="Shortest consent recording accepted.")
    consent_max_s: float = Field(30.0, description="Longest consent recording accepted.")
    challenge_ttl_s: int = Field(
        900, description="How long a consent challenge (its statement) may be used."
    )
    platform_name: str = Field("ScaiSpeak", description="The platform the consent statement names.")
    statement_max_char_error: float = Field(
        0.25,
        description="Largest character error rate of the consent transcript against "
        "the statement (letters only, spaces ignored).",
    )
    phrase_max_edit_ratio: float = Field(
        0.35,
        description="Largest edit distance, as a share of its length, at which the "
        "one-time phrase still counts as said.",
    )
    speaker_match_threshold: float = Field(
        0.92,
        description="Smallest Resemblyzer cosine between consent and reference voices "
        "that counts as the same speaker.",
    )
    single_speaker_fail_below: float = Field(
        0.60, description="Window-to-window speaker similarity below which a clip fails."
    )
    single_speaker_warn_below: float = Field(
        0.75, description="Window-to-window speaker similarity below which a clip warns."
    )
    analysis_threads: int = Field(
        1, description="Threads that run preflight, recognition and verification."
    )
    analysis_max_waiting: int = Field(
        4, description="Analyses that may wait for a thread before server_busy (503)."
    )
    build_lease_s: float = Field(
        60.0,
        description="A voice build whose heartbeat is older than this is taken over "
        "(its process died).",
    )
    build_poll_s: float = Field(
        5.0, description="How often the builder looks for voices waiting to be built."
    )


class CloningSettings(BaseModel):
    """The cloning engine: fitting a voice to a reference clip. Documented in docs/cloning.md."""

    model_version: str = Field(
        "kokoro-style-es-1",
        description="Names the fitter's output; blobs made by another version are rebuilt.",
    )
    time_budget_s: float = Field(
        45.0,
        description="Wall-clock budget of one fit (search, validation, WORLD); ready <= 60 s.",
    )
    max_evaluations: int = Field(
        120, description="Most candidate voices the style search synthesizes and scores."
    )
    mix_evaluations: int = Field(
        8, description="Evaluations spent on the mixing weights alone before the offset joins."
    )
    population: int = Field(1, description="Candidates per search generation, (1+λ)-ES.")
    initial_step: float = Field(
        0.3, description="First search step, in units of the stock voices' per-dimension spread."
    )
    validation_fraction: float = Field(
        0.4, description="Tail of the reference held out to choose among fitted candidates."
    )
    validation_stages: int = Field(
        3, description="Search stages whose best candidate is scored on the held-out part."
    )
    world_conversion: bool = Field(
        True, description="Try a WORLD pitch/formant/envelope conversion toward the reference."
    )
    world_min_gain: float = Field(
        0.01, description="Held-out similarity a WORLD conversion must add to be kept."
    )
    cache_size: int = Field(32, description="Fitted voices the engine keeps loaded (LRU).")
    seed: int = Field(0, description="Seed of the search's random steps (fits are repeatable).")


class ProvenanceSettings(BaseModel):
    """Watermarking, fingerprints and detection. Documented in docs/provenance.md."""

    watermark: bool = Field(
        True,
        description="Embed the Perth-Net watermark in produced audio (cloned voices "
        "always, stock voices per the tenant's choice). Off: nothing is marked.",
    )
    watermark_stock_voices: bool = Field(
        True,
        description="Whether stock (global) voices are marked for tenants that made no "
        "choice (PUT /provenance/policy).",
    )
    fingerprint_max_seconds: float = Field(
        120.0, description="Audio of each clip the stored fingerprint covers (its start)."
    )
    detect_max_bytes: int = Field(
        25 * 1024**2, description="Largest upload /detect accepts (413 above it)."
    )
    detect_max_seconds: float = Field(
        300.0, description="Longest audio /detect decodes (rejected above it)."
    )
    lookup_max_records: int = Field(
        2_000,
        description="Most recent provenance records of the caller's tenant that /detect "
        "compares a marked upload with.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCAISPEAK_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("./data"), description="Where SQLite, blobs and caches live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default is SQLite in the data dir."
    )
    host: str = Field("127.0.0.1", description="Interface `scaispeak serve` listens on.")
    port: int = Field(8000, description="Port `scaispeak serve` listens on.")
    secret_key: str | None = Field(
        None,
        description="Signs browser tokens. Generated and kept in the data dir when unset.",
    )
    bootstrap_on_start: bool = Field(
        True, description="Create a superadmin, tenant and key on first start."
    )
    storage_url: str | None = Field(
        None,
        description="Blob storage: unset = `<data_dir>/blobs`; `file:///abs/dir`; or "
        "`s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1`.",
    )
    storage_access_key_id: str | None = Field(
        None, description="S3 access key id (unset: the AWS_* environment or instance role)."
    )
    storage_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    log_level: str = Field("info", description="debug, info, warning or error (JSON lines).")
    engine_device: Literal["cpu", "cuda", "auto"] | None = Field(
        None, description="Alias of `SCAISPEAK_ENGINES__DEVICE` (issue 8's name); wins when set."
    )
    api_key: str | None = Field(
        None, description="Client side: the key `scaispeak say/voices --server` sends."
    )
    redis_url: str | None = Field(
        None, description="Redis for shared rate limits (and, later, jobs) in distributed mode."
    )
    limits: Limits = Field(default_factory=Limits)
    accounting: AccountingSettings = Field(default_factory=AccountingSettings)
    backends: BackendSettings = Field(default_factory=BackendSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    engines: EngineSettings = Field(default_factory=EngineSettings)
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    webrtc: WebRtcSettings = Field(default_factory=WebRtcSettings)
    voices: VoicesSettings = Field(default_factory=VoicesSettings)
    cloning: CloningSettings = Field(default_factory=CloningSettings)
    provenance: ProvenanceSettings = Field(default_factory=ProvenanceSettings)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'scaispeak.db').resolve()}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def resolved_secret_key(self) -> str:
        """The token-signing key: configured, or generated once and kept on disk."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
