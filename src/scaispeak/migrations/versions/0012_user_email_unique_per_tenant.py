"""user emails are unique within a tenant, not across the platform

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 22:00:00.000000

With one address per platform, a tenant admin creating a user learned (409) whether
the address existed in any other tenant. The operator's CLI, which looks users up by
address, asks for the tenant when an address is in several.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_email", type_="unique")
        batch_op.create_unique_constraint("uq_users_tenant_email", ["tenant_id", "email"])
        batch_op.create_index("ix_users_email", ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_email")
        batch_op.drop_constraint("uq_users_tenant_email", type_="unique")
        batch_op.create_unique_constraint("uq_users_email", ["email"])
