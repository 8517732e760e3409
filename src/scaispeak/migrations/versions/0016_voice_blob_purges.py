"""blobs of withdrawn voices are deleted for certain

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:30:00.000000

Revoking consent or deleting a voice deleted its reference and embedding after the
commit, at best effort: a blob store that failed then, or a process that stopped,
left them stored for good. Each key is now written here in the withdrawal's commit
and removed once the blob is gone; what is left is retried (speak/voices/purges.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_blob_purges",
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_voice_blob_purges_due_at", "voice_blob_purges", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_voice_blob_purges_due_at", table_name="voice_blob_purges")
    op.drop_table("voice_blob_purges")
