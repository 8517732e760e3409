"""voice popularity is counted per tenant

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 00:45:00.000000

One ``voices.usage_count`` for everyone let each tenant watch the others' use of the
shared global voices (and their ranking move with it). Uses are now counted in
``voice_tenant_uses``, one row per tenant and voice. Existing counts carry over: a
tenant or user voice's are all its own tenant's; a global voice's are rebuilt from
the ledger, one use per charged request of that tenant with that voice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_tenant_uses",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("voice_id", sa.String(length=80), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["voice_id"], ["voices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "voice_id"),
    )
    op.execute(
        "INSERT INTO voice_tenant_uses (tenant_id, voice_id, uses) "
        "SELECT tenant_id, id, usage_count FROM voices "
        "WHERE tenant_id IS NOT NULL AND usage_count > 0"
    )
    op.execute(
        "INSERT INTO voice_tenant_uses (tenant_id, voice_id, uses) "
        "SELECT l.tenant_id, l.voice_id, COUNT(*) FROM usage_ledger l "
        "JOIN voices v ON v.id = l.voice_id AND v.tenant_id IS NULL "
        "GROUP BY l.tenant_id, l.voice_id"
    )
    # A plain ALTER (SQLite 3.35+ has DROP COLUMN): batch mode would copy the voices
    # table, and dropping the old copy cascades to every row that references a voice.
    op.drop_column("voices", "usage_count")


def downgrade() -> None:
    op.add_column(
        "voices", sa.Column("usage_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE voices SET usage_count = (SELECT COALESCE(SUM(uses), 0) "
        "FROM voice_tenant_uses u WHERE u.voice_id = voices.id)"
    )
    op.drop_table("voice_tenant_uses")
