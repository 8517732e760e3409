"""Voices: intake and consent checks, the cloning fitter, and provenance."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class VoicesSettings(BaseModel):
    """Voice intake: upload caps, preflight limits, consent and verification thresholds.

    Thresholds are calibrated in docs/voices.md (bench/speaker_threshold.py).
    """

    clone_price_micros: int = Field(
        0,
        ge=0,
        description="What a cloned voice costs (micro-credits), held against the tenant's"
        " budget before an intake's checks (402 above it) and charged when the voice is"
        " made; 0 keeps cloning free, and each clone is still a 'clone' line in the ledger.",
    )

    upload_max_bytes: int = Field(
        25 * 1024**2,
        ge=1,
        description="Largest audio upload for preflight or intake (413 above it).",
    )
    document_max_bytes: int = Field(
        10 * 1024**2, ge=1, description="Largest consent or licence document upload (413 above it)."
    )
    decode_max_seconds: float = Field(
        60.0, gt=0, description="Longest audio decoded from an upload (rejected above it)."
    )
    decode_timeout_s: float = Field(
        10.0, gt=0, description="Wall-clock budget for decoding one upload (rejected above it)."
    )
    reference_min_s: float = Field(5.0, gt=0, description="Shortest reference clip accepted.")
    reference_max_s: float = Field(25.0, gt=0, description="Longest reference clip accepted.")
    consent_min_s: float = Field(2.0, gt=0, description="Shortest consent recording accepted.")
    consent_max_s: float = Field(30.0, gt=0, description="Longest consent recording accepted.")
    challenge_ttl_s: int = Field(
        900, ge=1, description="How long a consent challenge (its statement) may be used."
    )
    platform_name: str = Field("ScaiSpeak", description="The platform the consent statement names.")
    statement_max_char_error: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Largest character error rate of the consent transcript against "
        "the statement (letters only, spaces ignored).",
    )
    phrase_max_edit_ratio: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Largest edit distance, as a share of its length, at which the "
        "one-time phrase still counts as said.",
    )
    speaker_match_threshold: float = Field(
        0.92,
        ge=0,
        le=1,
        description="Smallest Resemblyzer cosine between consent and reference voices "
        "that counts as the same speaker.",
    )
    single_speaker_fail_below: float = Field(
        0.60,
        ge=0,
        le=1,
        description="Window-to-window speaker similarity below which a clip fails.",
    )
    single_speaker_warn_below: float = Field(
        0.75,
        ge=0,
        le=1,
        description="Window-to-window speaker similarity below which a clip warns.",
    )
    analysis_threads: int = Field(
        1, ge=1, description="Threads that run preflight, recognition and verification."
    )
    analysis_max_waiting: int = Field(
        4, ge=0, description="Analyses that may wait for a thread before analysis_busy (503)."
    )
    analysis_max_per_tenant: int = Field(
        2,
        ge=1,
        description="Analyses (running or waiting) one tenant may hold at once before "
        "too_many_analyses (429), so one tenant cannot fill the pool for all.",
    )
    build_lease_s: float = Field(
        60.0,
        gt=0,
        description="A voice build whose heartbeat is older than this is taken over "
        "(its process died).",
    )
    build_poll_s: float = Field(
        5.0, gt=0, description="How often the builder looks for voices waiting to be built."
    )
    build_threads: int = Field(
        1,
        ge=1,
        description="Voice builds (about a minute of CPU each) one process runs at once; it"
        " takes no more than that, leaving the rest to other processes.",
    )

    builds_waiting_max_per_tenant: int = Field(
        10,
        ge=1,
        description="New cloned voices of one tenant that may wait for their first build"
        " (about a minute each) before another intake is refused (429).",
    )

    @model_validator(mode="after")
    def _bounds_in_order(self) -> VoicesSettings:
        # Each of these, crossed, refused every clip while the service looked healthy.
        pairs = [
            ("reference_min_s", "reference_max_s"),
            ("consent_min_s", "consent_max_s"),
            ("single_speaker_fail_below", "single_speaker_warn_below"),
            ("reference_max_s", "decode_max_seconds"),
            ("consent_max_s", "decode_max_seconds"),
        ]
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low} ({getattr(self, low):g}) is above {high} ({getattr(self, high):g})"
                )
        return self


class CloningSettings(BaseModel):
    """The cloning engine: fitting a voice to a reference clip. Documented in docs/cloning.md."""

    model_version: str = Field(
        "kokoro-style-es-1",
        min_length=1,
        max_length=48,  # stored with the stock tables' fingerprint, in 80 characters
        description="Names the fitter's output; blobs made by another version (or for"
        " other Kokoro stock tables) are rebuilt.",
    )
    time_budget_s: float = Field(
        45.0,
        gt=0,
        description="Wall-clock budget of one fit's search; validation and WORLD follow it"
        " (about a minute to ready on 2 idle cores).",
    )
    max_evaluations: int = Field(
        120, ge=1, description="Most candidate voices the style search synthesizes and scores."
    )
    mix_evaluations: int = Field(
        8,
        ge=0,
        description="Evaluations spent on the mixing weights alone before the offset joins.",
    )
    population: int = Field(1, ge=1, description="Candidates per search generation, (1+λ)-ES.")
    initial_step: float = Field(
        0.3,
        gt=0,
        description="First search step, in units of the stock voices' per-dimension spread.",
    )
    validation_fraction: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="Tail of the reference held out to choose among fitted candidates.",
    )
    validation_stages: int = Field(
        3, ge=1, description="Search stages whose best candidate is scored on the held-out part."
    )
    world_conversion: bool = Field(
        True, description="Try a WORLD pitch/formant/envelope conversion toward the reference."
    )
    world_min_gain: float = Field(
        0.01, ge=-1, le=1, description="Held-out similarity a WORLD conversion must add to be kept."
    )
    cache_size: int = Field(32, ge=1, description="Fitted voices the engine keeps loaded (LRU).")
    seed: int = Field(
        0, ge=0, description="Seed of the search's random steps (fits are repeatable)."
    )


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
        120.0, gt=0, description="Audio of each clip the stored fingerprint covers (its start)."
    )
    detect_max_bytes: int = Field(
        25 * 1024**2, ge=1, description="Largest upload /detect accepts (413 above it)."
    )
    detect_max_seconds: float = Field(
        300.0, gt=0, description="Longest audio /detect decodes (rejected above it)."
    )
    lookup_max_records: int = Field(
        2_000,
        ge=1,
        description="Most recent provenance records of the caller's tenant that /detect "
        "compares a marked upload with.",
    )
