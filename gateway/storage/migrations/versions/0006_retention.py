"""retention: purge reports, and the date an import's line report was purged

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:24:24.715216
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purge_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("policy_version", sa.String(length=100), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("classes", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purge_runs")),
    )
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lines_purged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.drop_column("lines_purged_at")

    op.drop_table("purge_runs")
