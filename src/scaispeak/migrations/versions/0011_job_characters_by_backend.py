"""a job counts the characters each backend spoke, to charge each at its own price

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 21:00:00.000000

A job whose first backend failed over to another for some segments was charged at the
first backend's price for all of them. Jobs checkpointed before this migration have no
counts: their finished segments are charged at the first backend's price, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("characters_by_backend", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("synth_jobs", schema=None) as batch_op:
        batch_op.drop_column("characters_by_backend")
