"""idempotency keys of synth jobs are scoped per user

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:00:00.000000

A key used by one member no longer collides with (or reveals) another member's job of
the same tenant: the unique constraint moves from (tenant_id, idempotency_key) to
(tenant_id, user_id, idempotency_key). Every row that satisfied the old constraint
satisfies the new one. Downgrading fails if two users of a tenant share a key.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_synth_jobs_tenant_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_synth_jobs_user_idempotency_key", ["tenant_id", "user_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_synth_jobs_user_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_synth_jobs_tenant_id", ["tenant_id", "idempotency_key"]
        )
