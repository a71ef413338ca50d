"""intake: identities (sealed), decisions and their versions, imports and their reports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:28:30.702492
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("bi_agdref", sa.String(length=64), nullable=True),
        sa.Column("bi_ssn", sa.String(length=64), nullable=True),
        sa.Column("bi_name_year_sex", sa.String(length=80), nullable=True),
        sa.Column("residence_departement", sa.String(length=3), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_bi_agdref"), ["bi_agdref"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_identities_bi_name_year_sex"), ["bi_name_year_sex"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_identities_bi_ssn"), ["bi_ssn"], unique=False)

    op.create_table(
        "decision_imports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("prefecture_id", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["prefecture_id"],
            ["participants.id"],
            name=op.f("fk_decision_imports_prefecture_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_imports")),
    )
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_imports_prefecture_id"), ["prefecture_id"], unique=False
        )

    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("prefecture_id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prefecture_id"],
            ["participants.id"],
            name=op.f("fk_decisions_prefecture_id_participants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint(
            "prefecture_id", "reference", name=op.f("uq_decisions_prefecture_id_reference")
        ),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decisions_prefecture_created", ["prefecture_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "decision_import_lines",
        sa.Column("import_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("decision_id", sa.String(length=36), nullable=True),
        sa.Column("errors", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["decision_imports.id"],
            name=op.f("fk_decision_import_lines_import_id_decision_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "line", name=op.f("pk_decision_import_lines")),
    )
    op.create_table(
        "decision_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("withdrawn_document", sa.String(length=16), nullable=True),
        sa.Column("removal_measures", JSON_DOCUMENT, nullable=False),
        sa.Column("public_order", sa.Boolean(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("notification_date", sa.Date(), nullable=True),
        sa.Column("effect_date", sa.Date(), nullable=True),
        sa.Column("permit_category", sa.String(length=64), nullable=True),
        sa.Column("permit_expiry", sa.Date(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("correction_kind", sa.String(length=32), nullable=True),
        sa.Column("correction_reference", sa.String(length=64), nullable=True),
        sa.Column("correction_date", sa.Date(), nullable=True),
        sa.Column("body_digest", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_decision_versions_decision_id_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_decision_versions_identity_id_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_versions")),
        sa.UniqueConstraint(
            "decision_id",
            "correction_reference",
            name=op.f("uq_decision_versions_decision_id_correction_reference"),
        ),
        sa.UniqueConstraint(
            "decision_id", "version", name=op.f("uq_decision_versions_decision_id_version")
        ),
    )
    with op.batch_alter_table("decision_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_decision_versions_identity_id"), ["identity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("decision_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_versions_identity_id"))

    op.drop_table("decision_versions")
    op.drop_table("decision_import_lines")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_prefecture_created")

    op.drop_table("decisions")
    with op.batch_alter_table("decision_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_imports_prefecture_id"))

    op.drop_table("decision_imports")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_bi_ssn"))
        batch_op.drop_index(batch_op.f("ix_identities_bi_name_year_sex"))
        batch_op.drop_index(batch_op.f("ix_identities_bi_agdref"))

    op.drop_table("identities")
