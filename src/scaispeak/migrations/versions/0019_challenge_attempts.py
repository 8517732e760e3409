"""consent challenges count their judged attempts

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 19:45:00.000000

A rejected intake did not use its challenge, and nothing bounded the attempts: an
impostor could try splices and noise levels against the speaker check for the
challenge's whole 15 minutes. ``attempts`` counts each judged upload or live take.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_challenges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("consent_challenges", schema=None) as batch_op:
        batch_op.drop_column("attempts")
