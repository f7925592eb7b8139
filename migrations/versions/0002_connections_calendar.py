"""connections calendar items one on ones

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:23:27.669822
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('linked', 'needs_reconnect', 'error', 'disabled', name='connection_state'), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.Column('ms_tenant_id', sa.String(length=64), nullable=True),
    sa.Column('ms_oid', sa.String(length=64), nullable=True),
    sa.Column('account_email', sa.String(length=320), nullable=True),
    sa.Column('scopes', sa.Text(), nullable=True),
    sa.Column('access_token', sa.LargeBinary(), nullable=True),
    sa.Column('refresh_token', sa.LargeBinary(), nullable=True),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('admin_consent_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sync_outcome', sa.String(length=40), nullable=True),
    sa.Column('next_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failure_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id', name='connections_person_key')
    )
    op.create_index('connections_due_idx', 'connections', ['next_sync_at'], unique=False)
    op.create_table('one_on_ones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('ok', 'needs_attention', name='one_on_one_status'), nullable=False),
    sa.Column('attention_reason', sa.Text(), nullable=True),
    sa.Column('replacement_series_id', sa.Text(), nullable=True),
    sa.Column('attached_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['manager_id'], ['people.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['report_id'], ['people.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('manager_id', 'report_id', name='one_on_ones_pair_key')
    )
    op.create_table('calendar_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('connection_id', sa.Integer(), nullable=False),
    sa.Column('provider_event_id', sa.Text(), nullable=False),
    sa.Column('series_id', sa.Text(), nullable=True),
    sa.Column('event_type', sa.String(length=20), nullable=False),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_utc', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_cancelled', sa.Boolean(), nullable=False),
    sa.Column('change_key', sa.Text(), nullable=True),
    sa.Column('provider_data', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('connection_id', 'provider_event_id', name='calendar_items_event_key')
    )
    op.create_index('calendar_items_series_idx', 'calendar_items', ['connection_id', 'series_id'], unique=False)
    op.create_index('calendar_items_start_idx', 'calendar_items', ['connection_id', 'start_utc'], unique=False)
    op.drop_index(op.f('people_aliases_idx'), table_name='people', postgresql_using='gin')


def downgrade() -> None:
    op.create_index(op.f('people_aliases_idx'), 'people', ['aliases'], unique=False, postgresql_using='gin')
    op.drop_index('calendar_items_start_idx', table_name='calendar_items')
    op.drop_index('calendar_items_series_idx', table_name='calendar_items')
    op.drop_table('calendar_items')
    op.drop_table('one_on_ones')
    op.drop_index('connections_due_idx', table_name='connections')
    op.drop_table('connections')
    op.execute('DROP TYPE IF EXISTS one_on_one_status')
    op.execute('DROP TYPE IF EXISTS connection_state')
