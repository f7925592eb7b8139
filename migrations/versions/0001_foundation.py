"""foundation: organizations, people, audit events

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 18:22:30.082737
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


AUDIT_GUARD = """
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('listening.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def upgrade() -> None:
    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sync_enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('sync_interval_minutes', sa.Integer(), server_default='60', nullable=False),
    sa.Column('window_past_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('window_future_days', sa.Integer(), server_default='120', nullable=False),
    sa.Column('calendar_scope', sa.String(length=40), server_default='Calendars.Read', nullable=False),
    sa.Column('retention_calendar_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('retention_audit_days', sa.Integer(), server_default='730', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id')
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('ip', postgresql.INET(), nullable=True),
    sa.Column('user_agent', sa.String(length=400), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'seq', name='audit_org_seq_key')
    )
    op.create_index('audit_org_action_idx', 'audit_events', ['org_id', 'action', 'id'], unique=False)
    op.create_index('audit_org_actor_idx', 'audit_events', ['org_id', 'actor_id', 'id'], unique=False)
    op.create_index('audit_org_subject_idx', 'audit_events', ['org_id', 'subject_id', 'id'], unique=False)
    op.create_index('audit_org_time_idx', 'audit_events', ['org_id', 'occurred_at', 'id'], unique=False)
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('oid', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('aliases', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.Enum('employee', 'manager', 'hr_admin', name='person_role'), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('org_id', 'email', name='people_org_email_key'),
    sa.UniqueConstraint('org_id', 'oid', name='people_org_oid_key')
    )
    op.create_index('people_manager_idx', 'people', ['manager_id'], unique=False)
    op.create_index('people_aliases_idx', 'people', ['aliases'], postgresql_using='gin')
    # The audit log is append-only: UPDATE is always refused, DELETE only inside the
    # retention purge, which sets listening.audit_purge for its own transaction.
    op.execute(AUDIT_GUARD)
    op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
               "FOR EACH ROW EXECUTE FUNCTION audit_events_guard()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION IF EXISTS audit_events_guard()")
    op.drop_index('people_aliases_idx', table_name='people')
    op.drop_index('people_manager_idx', table_name='people')
    op.drop_table('people')
    op.drop_index('audit_org_time_idx', table_name='audit_events')
    op.drop_index('audit_org_subject_idx', table_name='audit_events')
    op.drop_index('audit_org_actor_idx', table_name='audit_events')
    op.drop_index('audit_org_action_idx', table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_table('organizations')
    op.execute("DROP TYPE IF EXISTS person_role")
