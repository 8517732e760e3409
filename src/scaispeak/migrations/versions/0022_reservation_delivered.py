"""a stream's hold records what it has delivered

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:00:00.000000

A replica killed mid-stream left holds that the stale-hold sweep gave back, and the
speech it had streamed went unbilled. A stream now records with each renewal what it
has delivered, and the sweep charges that. Existing holds have none: they are given
back as before. A downgrade drops the record: holds left then are given back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(sa.Column("delivered", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("delivered")
