"""budget holds carry when their work last showed it is alive

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 15:00:00.000000

A stream may talk for hours; it renews its holds, and the stale-hold sweep (now
periodic, in every API process) releases only holds that nobody renewed for
stale_reservation_s. Existing rows have none: their creation time counts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_column("renewed_at")
