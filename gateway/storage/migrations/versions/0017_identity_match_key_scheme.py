"""identities: how the stored blocking keys were made, so an upgrade that changes them reindexes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "identity_match_key_scheme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.Integer(), nullable=False),
        sa.Column("reindexed_after", sa.String(length=36), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_match_key_scheme")),
    )
    # Keys stored before this table were made under an older scheme (0): the worker gives
    # every identity its keys of the running release's scheme.
    op.execute(table.insert().values(id=1, scheme=0, updated_at=sa.func.current_timestamp()))


def downgrade() -> None:
    op.drop_table("identity_match_key_scheme")
