"""a job's webhook event is stored with its outcome and delivered from the row

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 18:00:00.000000

Deliveries lived in the memory of the process that ran the job, so a stop or a crash
lost them. The job's end now sets ``webhook_due_at`` in the same commit, and any
process that runs jobs delivers due events (speak/jobs/outbox.py). Jobs that ended
before this migration get no event: theirs was sent, or lost, already.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("webhook_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("webhook_delivered_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_synth_jobs_webhook_due_at", ["webhook_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_synth_jobs_webhook_due_at")
        batch_op.drop_column("webhook_delivered_at")
        batch_op.drop_column("webhook_attempts")
        batch_op.drop_column("webhook_due_at")
