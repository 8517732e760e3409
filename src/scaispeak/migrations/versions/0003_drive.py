"""drive: shares, members, files

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drive_shares",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column(
            "owner_kind",
            sa.Enum("user", "tenant", name="shareowner", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("owner_user_id", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_user_id"], ["users.id"], name=op.f("fk_drive_shares_owner_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_drive_shares_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive_shares")),
    )
    with op.batch_alter_table("drive_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drive_shares_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "drive_files",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("share_id", sa.String(length=40), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"], ["drive_shares.id"], name=op.f("fk_drive_files_share_id_drive_shares")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive_files")),
        sa.UniqueConstraint("share_id", "path", name=op.f("uq_drive_files_share_id")),
    )
    op.create_table(
        "drive_share_members",
        sa.Column("share_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column(
            "role",
            sa.Enum("read", "write", "owner", name="sharerole", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"],
            ["drive_shares.id"],
            name=op.f("fk_drive_share_members_share_id_drive_shares"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_drive_share_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("share_id", "user_id", name=op.f("pk_drive_share_members")),
    )
    with op.batch_alter_table("drive_share_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_drive_share_members_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("drive_share_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_share_members_user_id"))
    op.drop_table("drive_share_members")
    op.drop_table("drive_files")
    with op.batch_alter_table("drive_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_shares_tenant_id"))
    op.drop_table("drive_shares")
