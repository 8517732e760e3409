"""user emails are unique within a tenant, not across the platform

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 22:00:00.000000

With one address per platform, a tenant admin creating a user learned (409) whether
the address existed in any other tenant. The operator's CLI, which looks users up by
address, asks for the tenant when an address is in several.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_COLUMNS = "id, tenant_id, email, name, role, created_at"


def _users_table(name: str, unique: sa.UniqueConstraint) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "superadmin", "tenant_admin", "member", name="role", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        unique,
    )


def _rebuild_users_on_sqlite(unique: sa.UniqueConstraint, indexes: list[str]) -> None:
    """SQLite changes a constraint only by rebuilding the table. Alembic's batch mode
    copies ``users`` into a new table, drops ``users`` and renames the copy: the drop
    orphans every row that references a user (API keys, shares, voices), and the
    copy's rows came before the rename, so nothing counts them back: the upgrade of
    any database in use failed ("FOREIGN KEY constraint failed"). ``foreign_keys=OFF``
    cannot be set inside the migration's transaction; deferred to the commit, the
    checks pass once the rows are inserted into the table the references now name.
    (Nothing references users with ON DELETE CASCADE, which the drop would fire.)"""
    bind = op.get_bind()
    bind.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until this transaction ends
    bind.exec_driver_sql(f"CREATE TEMP TABLE _users_0012 AS SELECT {_COLUMNS} FROM users")
    _users_table("_users_rebuilt", unique)
    op.drop_table("users")  # its indexes go with it
    op.rename_table("_users_rebuilt", "users")
    bind.exec_driver_sql(f"INSERT INTO users ({_COLUMNS}) SELECT {_COLUMNS} FROM _users_0012")
    bind.exec_driver_sql("DROP TABLE temp._users_0012")
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"], unique=False)
    for name in indexes:
        op.create_index(name, "users", [name.removeprefix("ix_users_")], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        unique = sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_email")
        _rebuild_users_on_sqlite(unique, ["ix_users_email"])
        return
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_email", type_="unique")
        batch_op.create_unique_constraint("uq_users_tenant_email", ["tenant_id", "email"])
        batch_op.create_index("ix_users_email", ["email"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_users_on_sqlite(sa.UniqueConstraint("email", name="uq_users_email"), [])
        return
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_email")
        batch_op.drop_constraint("uq_users_tenant_email", type_="unique")
        batch_op.create_unique_constraint("uq_users_email", ["email"])
