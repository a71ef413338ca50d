"""console: a person's access reports asked for under dual control

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "console_access_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("auditor_id", sa.String(length=64), nullable=False),
        sa.Column("asked_by", sa.String(length=36), nullable=False),
        sa.Column("subject_pseudonyms", JSON_DOCUMENT, nullable=False),
        sa.Column("subject_indexes", JSON_DOCUMENT, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shown_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["auditor_id"],
            ["participants.id"],
            name=op.f("fk_console_access_requests_auditor_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_access_requests")),
    )
    op.create_index(
        op.f("ix_console_access_requests_asked_by"),
        "console_access_requests",
        ["asked_by"],
        unique=False,
    )
    op.create_index(
        "ix_console_access_requests_auditor_state",
        "console_access_requests",
        ["auditor_id", "state"],
    )


def downgrade() -> None:
    op.drop_table("console_access_requests")
