"""calendar_items.trim_version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00

Each stored copy records the version of the stored schema it was trimmed with
(listening/outlook/events.py), so that a sync rewrites copies trimmed under other
fields even when their change key is unchanged. Copies stored before this revision
get NULL: which fields they hold is not known, so the next sync of each mailbox
rewrites them once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('calendar_items', sa.Column('trim_version', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('calendar_items', 'trim_version')
