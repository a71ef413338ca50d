"""batches: signed batches per fund, receipts, record outcomes, push deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:34:00.543430
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("previous_digest", sa.String(length=80), nullable=True),
        sa.Column("express", sa.Boolean(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=100), nullable=False),
        sa.Column("kid", sa.String(length=200), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("content_key", sa.LargeBinary(), nullable=True),
        sa.Column("content_kek_id", sa.String(length=64), nullable=False),
        sa.Column("content_shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_batches_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("fund_id", "seq", name=op.f("uq_batches_fund_id_seq")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Batch bytes are stored encrypted: compressing them would cost time for nothing.
        op.execute("ALTER TABLE batches ALTER COLUMN content SET STORAGE EXTERNAL")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index("ix_batches_fund_state", ["fund_id", "state", "seq"], unique=False)

    op.create_table(
        "push_states",
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_push_states_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("fund_id", name=op.f("pk_push_states")),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_delivery_attempts_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_delivery_attempts_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_attempts_batch", ["batch_id", "attempt"], unique=False)

    op.create_table(
        "receipts",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("fund_id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("kid", sa.String(length=200), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcomes", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_receipts_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["participants.id"], name=op.f("fk_receipts_fund_id_participants")
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_receipts")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receipts_fund_id"), ["fund_id"], unique=False)

    op.create_table(
        "record_outcomes",
        sa.Column("disclosure_id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_record_outcomes_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["disclosure_id"],
            ["disclosures.id"],
            name=op.f("fk_record_outcomes_disclosure_id_disclosures"),
        ),
        sa.PrimaryKeyConstraint("disclosure_id", name=op.f("pk_record_outcomes")),
    )
    with op.batch_alter_table("record_outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_outcomes_batch_id"), ["batch_id"], unique=False)

    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        # Only pending rows: sealing then removes a row from the outbox index.
        batch_op.drop_index("ix_disclosures_outbox")
        batch_op.create_index(
            "ix_disclosures_outbox",
            ["fund_id", "priority_rank", "created_at"],
            unique=False,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )
        batch_op.add_column(sa.Column("batch_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_disclosures_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosures_batch_id"))
        batch_op.drop_column("batch_id")
        batch_op.drop_index("ix_disclosures_outbox")
        batch_op.create_index(
            "ix_disclosures_outbox", ["fund_id", "state", "priority_rank", "created_at"]
        )

    with op.batch_alter_table("record_outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_outcomes_batch_id"))

    op.drop_table("record_outcomes")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipts_fund_id"))

    op.drop_table("receipts")
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_attempts_batch")

    op.drop_table("delivery_attempts")
    op.drop_table("push_states")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index("ix_batches_fund_state")

    op.drop_table("batches")
