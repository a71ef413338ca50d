"""subscriptions: the people each fund holds a file on, as blind indexes with periods

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:20:06.212509
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_uploads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("identifiers", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"],
            ["participants.id"],
            name=op.f("fk_subscription_uploads_fund_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_uploads")),
    )
    with op.batch_alter_table("subscription_uploads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscription_uploads_fund_id", ["fund_id", "created_at"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("blind_index", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("upload_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_subscriptions_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_blind_index", ["blind_index", "fund_id"], unique=False
        )
        batch_op.create_index("ix_subscriptions_fund_id", ["fund_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_fund_id")
        batch_op.drop_index("ix_subscriptions_blind_index")

    op.drop_table("subscriptions")
    with op.batch_alter_table("subscription_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_uploads_fund_id")

    op.drop_table("subscription_uploads")
