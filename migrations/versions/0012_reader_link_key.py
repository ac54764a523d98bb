"""Readers: a key in every link of theirs (manage, unsubscribe, confirm, view, feed, votes),
replaced by "Send me new links" to revoke them all at once. A new reader's key is random,
so a reader id used again after a forget opens nothing of the reader before. Readers from
before keep key 0: the unsubscribe links in digests they already have still work (their
tokens name no key), until they ask for new links.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("link_key", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("link_key")
