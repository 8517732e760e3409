"""provenance records and tenant watermark choice

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provenance_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("voice_id", sa.String(length=80), nullable=False),
        sa.Column("watermarked", sa.Boolean(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_provenance_records_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provenance_records")),
    )
    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provenance_records_tenant_created", ["tenant_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provenance_records_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "tenant_provenance",
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("watermark_stock_voices", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_provenance_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_provenance")),
    )


def downgrade() -> None:
    op.drop_table("tenant_provenance")
    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provenance_records_request_id"))
        batch_op.drop_index("ix_provenance_records_tenant_created")
    op.drop_table("provenance_records")
