"""foundation: participants, audit events, used jtis

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:46:19.816224
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=True),
        sa.Column("participant_kind", sa.String(length=16), nullable=True),
        sa.Column("acting_for", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("case_reference", sa.String(length=128), nullable=True),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("object_ids", JSON_DOCUMENT, nullable=False),
        sa.Column("subject_pseudonyms", JSON_DOCUMENT, nullable=False),
        sa.Column("detail", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_acting_for"), ["acting_for"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_events_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("regime", sa.String(length=16), nullable=True),
        sa.Column("national", sa.Boolean(), nullable=False),
        sa.Column("jwks", JSON_DOCUMENT, nullable=False),
        sa.Column("encryption_jwk", JSON_DOCUMENT, nullable=True),
        sa.Column("push_endpoint", sa.String(length=500), nullable=True),
        sa.Column("require_dpop", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_participants_kind"), ["kind"], unique=False)

    op.create_table(
        "used_jtis",
        sa.Column("namespace", sa.String(length=16), nullable=False),
        sa.Column("issuer", sa.String(length=128), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "issuer", "jti", name=op.f("pk_used_jtis")),
    )
    with op.batch_alter_table("used_jtis", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_jtis_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "participant_delegations",
        sa.Column("delegate_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["participants.id"],
            name=op.f("fk_participant_delegations_delegate_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["participants.id"],
            name=op.f("fk_participant_delegations_principal_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "delegate_id", "principal_id", name=op.f("pk_participant_delegations")
        ),
    )
    with op.batch_alter_table("participant_delegations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_delegations_principal_id"), ["principal_id"], unique=False
        )

    op.create_table(
        "participant_territories",
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_participant_territories_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "participant_id", "departement", name=op.f("pk_participant_territories")
        ),
    )
    with op.batch_alter_table("participant_territories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participant_territories_departement"), ["departement"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("participant_territories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_territories_departement"))

    op.drop_table("participant_territories")
    with op.batch_alter_table("participant_delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participant_delegations_principal_id"))

    op.drop_table("participant_delegations")
    with op.batch_alter_table("used_jtis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_jtis_expires_at"))

    op.drop_table("used_jtis")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participants_kind"))

    op.drop_table("participants")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_participant_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))
        batch_op.drop_index(batch_op.f("ix_audit_events_acting_for"))

    op.drop_table("audit_events")
