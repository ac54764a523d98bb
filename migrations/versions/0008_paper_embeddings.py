"""Papers: each paper's vector from the embedding model, with the model's name and version
and a hash of the text embedded, so a new model or a changed abstract makes it stale.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embedding",
        sa.Column(
            "paper_id",
            sa.Integer(),
            sa.ForeignKey("paper.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("text_hash", sa.String(length=16), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paper_embedding")
