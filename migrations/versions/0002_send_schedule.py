"""Each reader's send day and hour (in their own timezone).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_day", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("send_hour", sa.Integer(), nullable=False, server_default="8")
        )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_status_updated", ["status", "updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_status_updated")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("send_hour")
        batch_op.drop_column("send_day")
