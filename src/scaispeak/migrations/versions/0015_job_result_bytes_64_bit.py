"""a job's result size is a 64-bit integer

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:10:00.000000

A WAV or PCM job of 420,000 characters at 48 kHz passes 2 GiB, within the documented
limits; PostgreSQL refused the 32-bit ``result_bytes`` at the job's last commit, after
hours of synthesis. SQLite's INTEGER is 64-bit already, and changing the declared type
there would mean rebuilding the jobs table: only PostgreSQL is altered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "synth_jobs", "result_bytes", type_=sa.BigInteger(), existing_type=sa.Integer()
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "synth_jobs", "result_bytes", type_=sa.Integer(), existing_type=sa.BigInteger()
        )
