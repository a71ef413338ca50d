"""metrics indexes: owed records, batches and push attempts counted at each scrape of /metrics

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OWED = "state IN ('pending', 'sealed', 'delivered')"
UNACKNOWLEDGED = "state IN ('sealed', 'delivered')"


def upgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_disclosures_owed",
            ["fund_id", "state", "priority_class"],
            unique=False,
            postgresql_where=sa.text(OWED),
            sqlite_where=sa.text(OWED),
        )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batches_unacknowledged",
            ["fund_id", "state", "created_at"],
            unique=False,
            postgresql_where=sa.text(UNACKNOWLEDGED),
            sqlite_where=sa.text(UNACKNOWLEDGED),
        )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_attempts_fund", ["fund_id", "accepted"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_fund")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_unacknowledged")
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index("ix_disclosures_owed")
