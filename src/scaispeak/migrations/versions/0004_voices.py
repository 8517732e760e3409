"""voices: cloned-voice lifecycle columns, recent use, consent challenges and records,
hash-chained audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "voice_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("voice_id", sa.String(length=80), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_audit")),
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_voice_audit_chain")),
    )
    with op.batch_alter_table("voice_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_voice_audit_voice_id"), ["voice_id"], unique=False)

    op.create_table(
        "voice_consents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("voice_id", sa.String(length=80), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("recording", "document", name="consentkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending_approval",
                "active",
                "rejected",
                "revoked",
                name="consentstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("speaker_name", sa.String(length=200), nullable=False),
        sa.Column("challenge_id", sa.String(length=40), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("transcript", sa.Text(), nullable=False),
        sa.Column("speaker_score", sa.Float(), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=False),
        sa.Column("document_blob", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_voice_consents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_consents")),
    )
    with op.batch_alter_table("voice_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_consents_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_voice_consents_voice_id"), ["voice_id"], unique=False)

    op.create_table(
        "consent_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("speaker_name", sa.String(length=200), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voice_id", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_consent_challenges_tenant_id_tenants")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consent_challenges_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_challenges")),
    )
    with op.batch_alter_table("consent_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_challenges_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "voice_uses",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("voice_id", sa.String(length=80), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_voice_uses_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["voice_id"],
            ["voices.id"],
            name=op.f("fk_voice_uses_voice_id_voices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "voice_id", name=op.f("pk_voice_uses")),
    )
    with op.batch_alter_table("voices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_blob", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("embedding_blob", sa.String(length=500), nullable=True))
        # Existing rows (stock voices) have no embedding: an empty version.
        batch_op.add_column(
            sa.Column("embedding_version", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("build_lease_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("promotion_agreed_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("voices", schema=None) as batch_op:
        batch_op.alter_column("embedding_version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("voices", schema=None) as batch_op:
        batch_op.drop_column("promotion_agreed_at")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("build_lease_until")
        batch_op.drop_column("embedding_version")
        batch_op.drop_column("embedding_blob")
        batch_op.drop_column("reference_blob")
    op.drop_table("voice_uses")
    with op.batch_alter_table("consent_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_challenges_tenant_id"))
    op.drop_table("consent_challenges")
    with op.batch_alter_table("voice_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_consents_voice_id"))
        batch_op.drop_index(batch_op.f("ix_voice_consents_tenant_id"))
    op.drop_table("voice_consents")
    with op.batch_alter_table("voice_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_audit_voice_id"))
    op.drop_table("voice_audit")
