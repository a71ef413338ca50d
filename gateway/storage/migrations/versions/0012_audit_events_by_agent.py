"""audit events by agent: CODAF follows up one agent's accesses

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEX = "ix_audit_events_agent_id_id"


def upgrade() -> None:
    # The audit table is the largest: on PostgreSQL the index is built without blocking
    # the appends (CONCURRENTLY, which runs outside a transaction).
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # A build interrupted earlier leaves an invalid index behind: built again.
            invalid = op.get_bind().scalar(
                sa.text(
                    "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"
                ),
                {"name": INDEX},
            )
            if invalid:
                op.execute(sa.text(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"))
            op.create_index(
                INDEX,
                "audit_events",
                ["agent_id", "id"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        op.create_index(INDEX, "audit_events", ["agent_id", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="audit_events")
