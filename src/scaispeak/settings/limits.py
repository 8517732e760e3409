"""Request limits, budgets and prices, and long synthesis jobs."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator

DEFAULT_PRICES = {"selfhosted": 15, "relay": 30}
"""Micro-credits per character, by backend (speak/backends/catalog.py names them)."""


class Limits(BaseModel):
    """Request limits. Documented in docs/configuration.md."""

    inline_max_chars: int = Field(
        5_000, ge=1, description="Longest text /speak synthesizes inline (characters)."
    )
    openai_max_chars: int = Field(
        4_096,
        ge=1,
        description="Longest `input` accepted by /v1/audio/speech (OpenAI's own limit).",
    )
    max_json_bytes: int = Field(
        6_100_000,
        ge=1024,
        description="Largest JSON request body accepted (413 above it); the default holds a"
        " job's longest text in any script, even with every character escaped (12 bytes for"
        " one outside the Basic Multilingual Plane, an emoji: a surrogate pair of escapes).",
    )
    min_speed: float = Field(0.5, gt=0, description="Slowest speaking rate accepted.")
    max_speed: float = Field(2.0, gt=0, description="Fastest speaking rate accepted.")
    sample_rates: tuple[int, ...] = Field(
        (8_000, 16_000, 22_050, 24_000, 44_100, 48_000),
        description="Output sample rates a caller may request.",
    )
    page_size_max: int = Field(100, ge=1, description="Largest page size for list endpoints.")
    token_ttl_seconds: int = Field(
        300, ge=1, description="Lifetime of browser tokens from POST /v1/auth/tokens (max)."
    )
    drive_upload_max_bytes: int = Field(
        1024**3, ge=1, description="Largest file one drive upload may store (413 above it)."
    )
    drive_tenant_max_bytes: int = Field(
        20 * 1024**3,
        ge=1,
        le=2**62,
        description="Bytes all of a tenant's drive files may hold together: uploads, "
        "save_to and job audio saved to a share (413 drive_quota_exceeded above it).",
    )

    @model_validator(mode="after")
    def _speeds_in_order(self) -> Limits:
        # Crossed, every speed a caller could send was refused.
        if self.min_speed > self.max_speed:
            raise ValueError(f"min_speed {self.min_speed:g} is above max_speed {self.max_speed:g}")
        return self


class AccountingSettings(BaseModel):
    """Prices and per-tenant traffic limits."""

    prices_micros_per_char: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="Price per character by backend, in micro-credits (JSON); a backend"
        " left out keeps its default (selfhosted 15, relay 30), 0 makes one free.",
    )

    @field_validator("prices_micros_per_char")
    @classmethod
    def _priced_in_full(cls, prices: dict[str, int]) -> dict[str, int]:
        # Setting the map replaces it: a backend left out would otherwise cost nothing,
        # and a negative price would pay tenants back for speaking.
        unknown = sorted(set(prices) - set(DEFAULT_PRICES))
        if unknown:
            raise ValueError(f"no backend {unknown}; backends: {sorted(DEFAULT_PRICES)}")
        if any(price < 0 for price in prices.values()):
            raise ValueError("prices cannot be negative")
        return {**DEFAULT_PRICES, **prices}

    max_concurrent_per_tenant: int = Field(
        16, ge=1, description="Synthesis requests a tenant may run at once (429 above)."
    )
    requests_per_minute_per_tenant: int = Field(
        600, ge=1, description="Requests a tenant may start per minute (429 above)."
    )
    stale_reservation_s: int = Field(
        3600,
        gt=0,
        description="A budget hold neither made nor renewed for this long is released"
        " (left by a crashed process; live streams renew theirs), or charged for what"
        " its stream had delivered when it last renewed.",
    )
    stream_checkpoint_s: float = Field(
        60.0,
        gt=0,
        description="How often a stream renews its budget holds and records what it has"
        " delivered: a process that dies mid-stream leaves at most this much speech"
        " unbilled. Must be below stale_reservation_s.",
    )
    hold_sweep_interval_s: float = Field(
        300.0, gt=0, description="How often each API process looks for stale budget holds."
    )

    @model_validator(mode="after")
    def _checkpoints_before_the_sweep(self) -> AccountingSettings:
        # Else a live stream's holds were swept between two of its renewals.
        if self.stream_checkpoint_s >= self.stale_reservation_s:
            raise ValueError(
                f"stream_checkpoint_s {self.stream_checkpoint_s:g} must be below"
                f" stale_reservation_s {self.stale_reservation_s}"
            )
        return self


class JobSettings(BaseModel):
    """Asynchronous synth jobs (docs/jobs.md)."""

    max_chars: int = Field(500_000, ge=1, description="Longest text a job accepts (hard limit).")
    lease_s: int = Field(
        60, ge=1, description="A worker's claim on a job; renewed at every finished segment."
    )
    sweep_interval_s: float = Field(
        5.0, gt=0, description="How often a worker looks for jobs whose worker died."
    )
    requeue_after_s: int = Field(
        120,
        ge=1,
        description="A queued job not started after this long is handed to the queue again.",
    )
    max_attempts: int = Field(
        3,
        ge=1,
        description="Runs a job gets before it is failed: a job whose worker keeps dying "
        "(crash, out of memory, lost lease) stops being retried after this many claims.",
    )
    concurrency: int = Field(
        2, ge=1, description="Jobs one worker process runs at once (0 ran none, silently)."
    )
    result_ttl_s: int = Field(
        7 * 86400,
        ge=0,
        description="How long a succeeded job's audio is kept after it finished; then it is "
        "deleted and GET /jobs/{id}/audio is 410 audio_expired (the job's record stays). "
        "0 keeps it forever. A save_to file is the caller's and is never deleted.",
    )
    max_active_per_tenant: int = Field(
        100,
        ge=1,
        description="Jobs one tenant may have queued or running at once; a submit over it "
        "is 429 too_many_jobs. Keeps one tenant's backlog from filling every worker.",
    )
    queue_name: str = Field("scaispeak-jobs", description="Redis stream the jobs travel on.")
    stream_maxlen: int = Field(
        100_000,
        ge=1000,
        description="Messages the Redis stream keeps (about: trimmed by whole blocks); older "
        "ones are dropped. A job whose message was dropped unread is queued again by the "
        "sweeper after requeue_after_s.",
    )
    redelivery_idle_ms: int = Field(
        300_000,
        ge=1000,
        description="Unacknowledged Redis messages idle this long are redelivered.",
    )
    webhook_attempts: int = Field(5, ge=1, description="Deliveries tried per webhook event.")
    webhook_backoff_s: float = Field(
        2.0, gt=0, description="First retry delay; doubles each attempt, with jitter."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook delivery.")
    webhook_allowed_targets: list[str] = Field(
        default_factory=list,
        description="Hosts and networks webhooks may reach although they are not public "
        'addresses (JSON, e.g. `["hooks.corp.example", "10.20.0.0/16"]`): on-premises '
        "receivers. Loopback, private, link-local (cloud metadata), multicast and reserved "
        "addresses are refused otherwise.",
    )
