"""Readers' feedback: a vote per reader and paper ("More like this" / "Not for me"), and
each reader's exclusions ("never" topics and authors).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber") as batch:
        batch.add_column(sa.Column("exclusions", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "vote",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscriber.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "paper_id",
            sa.Integer(),
            sa.ForeignKey("paper.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("issue_id", sa.Integer(), sa.ForeignKey("issue.id"), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("excluded", sa.String(length=300), nullable=True),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_vote_issue_id", "vote", ["issue_id"])


def downgrade() -> None:
    op.drop_index("ix_vote_issue_id", table_name="vote")
    op.drop_table("vote")
    with op.batch_alter_table("subscriber") as batch:
        batch.drop_column("exclusions")
