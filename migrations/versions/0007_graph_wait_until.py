"""connections.graph_wait_until

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00

When Microsoft Graph answers Retry-After for longer than a sync may wait, the
connection remembers until when, and nothing is sent to Graph for that mailbox
before then (listening/outlook/connection.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('connections', sa.Column('graph_wait_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('connections', 'graph_wait_until')
