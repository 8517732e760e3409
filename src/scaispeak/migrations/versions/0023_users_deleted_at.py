"""users can be deleted

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:00:00.000000

`DELETE /users/{id}` keeps the row, its email and name erased, so that the ledger,
jobs and audit trail that name the user by id still resolve; this records when. A
downgrade drops the column: deleted users then look like users without a key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deleted_at")
