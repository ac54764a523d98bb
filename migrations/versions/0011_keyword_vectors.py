"""Papers' vectors: beside each paper's own, its AI keywords' (the phrase a pick by meaning
shows), made at ingest rather than by every worker process. Rows made before have none;
the next ingest embeds those papers again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("paper_embedding", sa.Column("keywords", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("paper_embedding", "keywords")
