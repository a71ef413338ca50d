"""audit log: the Merkle log of audit events (leaves, subtree hashes, checkpoints), append-only

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 22:31:59.362471
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "tree_size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=200), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_log_leaves",
        sa.Column(
            "index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("index", name=op.f("pk_audit_log_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_log_leaves_event_id")),
    )
    op.create_table(
        "audit_log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "index",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_audit_log_nodes")),
    )
    op.create_table(
        "audit_log_queue",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_log_queue")),
    )
    op.create_table(
        "audit_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log_state")),
    )

    # Events written before the log existed are logged first, in their order.
    op.execute(
        "INSERT INTO audit_log_queue (event_id, queued_at) "
        "SELECT event_id, occurred_at FROM audit_events"
    )
    _append_only(APPEND_ONLY)


APPEND_ONLY = ("audit_log_leaves", "audit_log_nodes", "audit_checkpoints")


def _append_only(tables: tuple[str, ...]) -> None:
    """The database refuses to change or remove what the log holds."""
    if op.get_bind().dialect.name == "postgresql":
        # The function of migration 0002 raises for any table; reuse it.
        for table in tables:
            op.execute(
                f"""
                CREATE TRIGGER {table}_append_only
                BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
                """
            )
        return
    for table in tables:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"""
                CREATE TRIGGER {table}_no_{operation.lower()}
                BEFORE {operation} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
                """
            )


def downgrade() -> None:
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
    op.drop_table("audit_log_state")
    op.drop_table("audit_log_queue")
    op.drop_table("audit_log_nodes")
    op.drop_table("audit_log_leaves")
    op.drop_table("audit_checkpoints")
