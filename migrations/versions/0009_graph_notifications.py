"""graph_subscriptions, calendar_deltas, organizations.safety_net_hours

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00

Graph change notifications keep linked calendars fresh (listening/notifications/): one
subscription per connection, with its encrypted clientState; the scheduled re-read becomes a
safety net at an organization's own interval. Organizations on Calendars.ReadBasic read
through calendarView delta, whose encrypted delta link is kept per connection.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('organizations', sa.Column('safety_net_hours', sa.Integer(), server_default='24',
                                             nullable=False))
    op.create_table(
        'graph_subscriptions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('connection_id', sa.Integer(), sa.ForeignKey('connections.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('subscription_id', sa.String(length=128), nullable=False),
        sa.Column('client_state', sa.LargeBinary(), nullable=False),
        sa.Column('notification_url', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('connection_id', name='graph_subscriptions_connection_key'),
        sa.UniqueConstraint('subscription_id', name='graph_subscriptions_subscription_key'),
    )
    op.create_index('graph_subscriptions_expiry_idx', 'graph_subscriptions', ['expires_at'])
    op.create_table(
        'calendar_deltas',
        sa.Column('connection_id', sa.Integer(), sa.ForeignKey('connections.id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('delta_link', sa.LargeBinary(), nullable=True),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
        sa.Column('forbidden_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('trim_version', sa.String(length=16), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('calendar_deltas')
    op.drop_index('graph_subscriptions_expiry_idx', table_name='graph_subscriptions')
    op.drop_table('graph_subscriptions')
    op.drop_column('organizations', 'safety_net_hours')
