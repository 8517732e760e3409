"""ended jobs say when their leftover blobs were known to be gone

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:30:00.000000

A job's checkpoints are deleted when it ends, and its audio when its retention ends,
at best effort: a store failing then, or a process stopping part-way through
thousands of checkpoints, left them stored for good. ``blobs_swept_at`` is set once
they are all gone; the job sweep deletes again for ended jobs without it. Jobs that
ended before this migration are taken as swept: their deletions ran as they did,
and sweeping every old job once would ask the store for every checkpoint again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blobs_swept_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_synth_jobs_blobs_swept_at", ["blobs_swept_at"], unique=False)
    op.execute(
        "UPDATE synth_jobs SET blobs_swept_at = COALESCE(finished_at, CURRENT_TIMESTAMP)"
        " WHERE state IN ('succeeded', 'failed', 'cancelled')"
    )


def downgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_synth_jobs_blobs_swept_at")
        batch_op.drop_column("blobs_swept_at")
