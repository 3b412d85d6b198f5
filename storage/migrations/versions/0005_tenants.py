"""the VenueOS tenant that owns each Clever connection; browser sessions and OAuth state bound to them

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty on connections made before tenants existed: only operators reach those until an
    # operator assigns them (or the district reconnects through a tenant's session).
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_districts_tenant_id", ["tenant_id"])
    # A purged district's row is gone; its receipt keeps the tenant so that tenant still sees it.
    with op.batch_alter_table("deletion_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=128), nullable=True))
        batch_op.create_index("ix_deletion_receipts_tenant_id", ["tenant_id"])
    # The OAuth state belongs to the browser session and tenant that started it.
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))
        # Recorded right after the code exchange, so a connect retried after a crash finishes
        # from Clever's token listing instead of failing on the spent code; then the connect run.
        batch_op.add_column(sa.Column("exchanged_district_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("authorized_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("run_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_column("run_id")
        batch_op.drop_column("authorized_by")
        batch_op.drop_column("exchanged_district_id")
        batch_op.drop_column("session_id")
        batch_op.drop_column("tenant_id")
    with op.batch_alter_table("deletion_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_deletion_receipts_tenant_id")
        batch_op.drop_column("tenant_id")
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.drop_index("ix_districts_tenant_id")
        batch_op.drop_column("tenant_id")
