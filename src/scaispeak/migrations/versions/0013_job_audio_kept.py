"""a partial index for the retention sweep

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 00:30:00.000000

Every sweep looks for succeeded jobs whose audio is past its retention
(speak/jobs/retention.py). Only jobs that still keep audio are in the index, ordered
by when they finished, so the lookup stays small however many jobs accumulate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEPS_AUDIO = sa.text("result_key IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_synth_jobs_audio_kept",
        "synth_jobs",
        ["finished_at"],
        postgresql_where=KEEPS_AUDIO,
        sqlite_where=KEEPS_AUDIO,
    )


def downgrade() -> None:
    op.drop_index("ix_synth_jobs_audio_kept", table_name="synth_jobs")
