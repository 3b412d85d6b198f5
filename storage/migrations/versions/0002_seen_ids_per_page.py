"""seen ids per page: one run_seen_pages row per applied page instead of a run_seen row per id

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "run_seen_pages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column(
            "clever_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_seen_pages")),
    )
    with op.batch_alter_table("run_seen_pages", schema=None) as batch_op:
        batch_op.create_index("ix_run_seen_pages_run", ["run_id", "entity_type"], unique=False)
    # A run in progress keeps what it has seen so far.
    aggregate = "jsonb_agg(clever_id)" if _is_postgresql() else "json_group_array(clever_id)"
    op.execute(
        "INSERT INTO run_seen_pages (run_id, entity_type, clever_ids) "
        f"SELECT run_id, entity_type, {aggregate} FROM run_seen GROUP BY run_id, entity_type"
    )
    op.drop_table("run_seen")


def downgrade() -> None:
    op.create_table(
        "run_seen",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("clever_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "entity_type", "clever_id", name=op.f("pk_run_seen")),
    )
    elements = (
        "jsonb_array_elements_text(p.clever_ids) AS e(value)"
        if _is_postgresql()
        else "json_each(p.clever_ids) AS e"
    )
    op.execute(
        "INSERT INTO run_seen (run_id, entity_type, clever_id) "
        f"SELECT DISTINCT p.run_id, p.entity_type, e.value FROM run_seen_pages AS p, {elements}"
    )
    with op.batch_alter_table("run_seen_pages", schema=None) as batch_op:
        batch_op.drop_index("ix_run_seen_pages_run")
    op.drop_table("run_seen_pages")
