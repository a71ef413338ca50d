"""identity match keys: keyed blocking keys for name matching in status checks

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 00:06:53.301030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_match_keys",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_identity_match_keys_identity_id_identities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "identity_id", name=op.f("pk_identity_match_keys")),
    )
    with op.batch_alter_table("identity_match_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_match_keys_identity_id"), ["identity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_match_keys_identity_id"))

    op.drop_table("identity_match_keys")
