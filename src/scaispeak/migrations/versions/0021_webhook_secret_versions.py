"""webhook secrets can be rotated

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 10:00:00.000000

A user's webhook secret was derived from the deployment's key and their ids alone, so
a leaked one could only be replaced by rotating the key every secret and browser token
hangs on. The derivation now takes a version, kept here; users without a row keep
version 0, the secret they have today. A downgrade drops the versions: every user is
back on version 0, a secret rotated away after a leak included.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_secret_versions",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_secret_versions_tenant_id_tenants"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_webhook_secret_versions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_webhook_secret_versions")),
    )
    op.create_index(
        op.f("ix_webhook_secret_versions_tenant_id"),
        "webhook_secret_versions",
        ["tenant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_secret_versions_tenant_id"), table_name="webhook_secret_versions"
    )
    op.drop_table("webhook_secret_versions")
