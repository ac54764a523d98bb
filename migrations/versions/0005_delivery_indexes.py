"""Deliveries: fewer indexes to maintain on every state change.

Each delivery row is updated twice as it is sent (claimed, then finished), and every index
on it costs a write each time. The single-column issue and status indexes are covered by
other ones; stale and claimable work is found through a partial index that holds only the
unfinished rows, so it stays small and a finished row leaves it for good.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_status_updated")
        batch_op.drop_index("ix_delivery_status")
        batch_op.drop_index("ix_delivery_issue_id")
    op.create_index(
        "ix_delivery_unfinished",
        "delivery",
        ["issue_id", "updated_at"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_delivery_unfinished", table_name="delivery")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_issue_id", ["issue_id"])
        batch_op.create_index("ix_delivery_status", ["status"])
        batch_op.create_index("ix_delivery_status_updated", ["status", "updated_at"])
