"""The synth job row: the single source of truth for a job's state and progress.

The queue only carries job ids; a worker claims the row with a lease, writes each
finished segment's audio to blob storage (a checkpoint) and advances
``segments_done`` in the same step, so a crashed worker's successor resumes from the
last finished segment.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, defer, mapped_column

from scaispeak.platform.db import Base, new_id, str_enum, utcnow


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL = (JobState.succeeded, JobState.failed, JobState.cancelled)
ACTIVE = (JobState.queued, JobState.running)
LEASE_OWNER_MAX = 64
"""Longest worker id ``lease_owner`` holds (VARCHAR(64) since migration 0005)."""
WEBHOOK_URL_MAX_CHARS = 2000
"""A webhook URL's longest (its column; the request schema refuses longer ones)."""


class SynthJob(Base):
    __tablename__ = "synth_jobs"
    # Idempotency keys belong to the user who sent them (migration 0007).
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "user_id", "idempotency_key", name="uq_synth_jobs_user_idempotency_key"
        ),
        # The claim's turn order reads each tenant's latest start (lease.next_in_line).
        Index("ix_synth_jobs_tenant_started", "tenant_id", "started_at"),
        # The retention sweep's lookup (retention.py): only jobs still keeping audio.
        Index(
            "ix_synth_jobs_audio_kept",
            "finished_at",
            postgresql_where=text("result_key IS NOT NULL"),
            sqlite_where=text("result_key IS NOT NULL"),
        ),
        # ...and its text sweep's (retention.forget_texts): only jobs still keeping text.
        Index(
            "ix_synth_jobs_text_kept",
            "finished_at",
            postgresql_where=text("text <> ''"),
            sqlite_where=text("text <> ''"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(40))
    voice_id: Mapped[str] = mapped_column(String(80), index=True)
    state: Mapped[JobState] = mapped_column(str_enum(JobState), index=True)
    text: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    """format, sample_rate, speed, backend route (engine, engine voice), price."""
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[str] = mapped_column(String(40))
    save_to: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(String(WEBHOOK_URL_MAX_CHARS), nullable=True)
    characters_total: Mapped[int] = mapped_column(Integer)
    characters_done: Mapped[int] = mapped_column(Integer, default=0)
    segments_total: Mapped[int] = mapped_column(Integer)
    segments_done: Mapped[int] = mapped_column(Integer, default=0)
    audio_seconds_done: Mapped[float] = mapped_column(Float, default=0.0)
    characters_by_backend: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    """Characters each backend has spoken so far (failover can mix them); the charge
    prices each share at its backend's rate (billing.py). None before the first
    checkpoint, and on jobs checkpointed before this was counted."""
    result_key: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # A long WAV passes 2 GiB; SQLite's INTEGER holds 64 bits already (migration 0015).
    result_bytes: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), nullable=True
    )
    result_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    saved_file: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(LEASE_OWNER_MAX), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_kick_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the queue was last given this job (the sweeper re-kicks lost ones)."""
    webhook_due_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    """When the job-ended event's next delivery attempt is due; None when no attempt is
    left (delivered, given up, or no webhook). Set with the final state (outbox.py)."""
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhook_delivered_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    blobs_swept_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    """When the ended job's blobs that should be gone were last known to be (its
    checkpoints; its audio unless kept); None while it runs, and after a deletion
    that failed, which the leftover sweep then does again (leftovers.py)."""


WITHOUT_TEXT = defer(SynthJob.text, raiseload=True)
"""For reads that never need a job's text (listings, events): up to ``max_chars``
characters a job, a hundred jobs to a page."""


class WebhookSecretVersion(Base):
    """Which of a user's webhook secrets is current: the secrets are derived, never
    stored (webhooks.webhook_secret), and a rotation moves to the next version. No row
    is version 0, the secret every user starts with."""

    __tablename__ = "webhook_secret_versions"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rotated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    previous_valid_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    """Until when events also carry a signature by the secret the rotation replaced."""
