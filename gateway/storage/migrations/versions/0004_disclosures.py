"""disclosures: each decision version owed to each fund, with the policy version that decided it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:36:39.734889
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disclosures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("correction", sa.Boolean(), nullable=False),
        sa.Column("priority_rank", sa.Integer(), nullable=False),
        sa.Column("priority_class", sa.String(length=64), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_disclosures_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_disclosures_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosures")),
        sa.UniqueConstraint(
            "decision_id",
            "version",
            "fund_id",
            name=op.f("uq_disclosures_decision_id_version_fund_id"),
        ),
    )
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_disclosures_outbox",
            ["fund_id", "state", "priority_rank", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index("ix_disclosures_outbox")

    op.drop_table("disclosures")
