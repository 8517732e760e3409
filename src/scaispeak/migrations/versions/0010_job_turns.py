"""an index for the order in which tenants' jobs take turns

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 18:30:00.000000

A worker picks the job of the tenant whose last job started longest ago
(speak/jobs/lease.py, next_in_line); (tenant_id, started_at) makes each tenant's
latest start one index lookup.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_synth_jobs_tenant_started", "synth_jobs", ["tenant_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_synth_jobs_tenant_started", table_name="synth_jobs")
