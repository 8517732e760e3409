"""ledger lines carry the budget period they count in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00.000000

A ledger line's ``created_at`` is when its work settled; the budget counters charge
the period its hold was taken in (a job submitted at 23:00 and finished after
midnight counts on the day it was submitted). A budget's recount and the usage
report read ``created_at``, so such work counted in both periods after a recount,
and showed on the wrong day. ``charged_at`` is the hold's time; existing lines take
their stored hold's time, or (unbudgeted work, whose holds were never stored) their
settlement time, the best that is known of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE usage_ledger SET charged_at = COALESCE("
        "(SELECT reservations.created_at FROM reservations"
        " WHERE reservations.id = usage_ledger.reservation_id), created_at)"
    )
    with op.batch_alter_table("usage_ledger", schema=None) as batch_op:
        batch_op.alter_column(
            "charged_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index("ix_usage_ledger_charged_at", ["charged_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_ledger_charged_at")
        batch_op.drop_column("charged_at")
