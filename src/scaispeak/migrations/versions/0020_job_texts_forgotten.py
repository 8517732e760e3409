"""ended jobs' texts are forgotten with their audio

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 01:50:00.000000

A job's text (up to 500,000 characters of a caller's words) was kept for good after
its audio was deleted, and its webhook URL with the secret in its path. The job sweep
now empties the text and cuts the URL to its origin once the retention period ends
(retention.forget_texts); this index keeps that lookup to the jobs still holding text.
Jobs that ended before this migration are forgotten by the sweep, a batch at a time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_synth_jobs_text_kept",
            ["finished_at"],
            unique=False,
            postgresql_where=sa.text("text <> ''"),
            sqlite_where=sa.text("text <> ''"),
        )


def downgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_synth_jobs_text_kept")
