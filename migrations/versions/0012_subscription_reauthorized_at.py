"""graph_subscriptions.reauthorized_at

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 09:00:00

When Listening last answered a reauthorization challenge with /reauthorize: Microsoft asks
that a /reauthorize and a PATCH of one subscription come at least 10 minutes apart, so a
renewal waits that long after one (listening/notifications/subscriptions.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('graph_subscriptions', sa.Column('reauthorized_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('graph_subscriptions', 'reauthorized_at')
