"""import jobs: the upload stored sealed, processed by the worker with progress and a lease

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_import_chunks",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["decision_imports.id"],
            name=op.f("fk_decision_import_chunks_import_id_decision_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_decision_import_chunks")),
    )
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("encoding", sa.String(length=16), server_default="utf-8", nullable=False)
        )
        batch_op.add_column(
            sa.Column("size_bytes", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("lines_total", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("lines_done", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("context", JSON_DOCUMENT, nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    # Imports made before were processed in their request: they are done.
    op.execute("UPDATE decision_imports SET status = 'done' WHERE status = 'completed'")


def downgrade() -> None:
    op.execute("UPDATE decision_imports SET status = 'completed' WHERE status = 'done'")
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.drop_column("started_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("context")
        batch_op.drop_column("lines_done")
        batch_op.drop_column("lines_total")
        batch_op.drop_column("size_bytes")
        batch_op.drop_column("encoding")
    op.drop_table("decision_import_chunks")
