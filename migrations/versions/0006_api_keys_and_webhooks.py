"""api_keys; webhook endpoints, events (the outbox) and deliveries; one_on_ones.changed_at

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00

The read-only API (listening/api/) authenticates organizations' keys, and outbound events
(listening/webhooks/) are written to an outbox in the transaction of their cause. The API's
"changed since" filter reads one_on_ones.changed_at, which a trigger moves whenever what the
API shows of a 1-on-1 changes (and only then: a re-check that changes nothing leaves it).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHANGED_AT = """
CREATE FUNCTION one_on_ones_changed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.manager_id, NEW.report_id, NEW.series_id, NEW.status, NEW.attached_at)
       IS DISTINCT FROM (OLD.manager_id, OLD.report_id, OLD.series_id, OLD.status, OLD.attached_at) THEN
        NEW.changed_at := now();
    END IF;
    RETURN NEW;
END $$;
"""


def _created_at():
    return sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.add_column('one_on_ones', sa.Column('changed_at', sa.DateTime(timezone=True),
                                           server_default=sa.text('now()'), nullable=False))
    op.execute("UPDATE one_on_ones SET changed_at = greatest(attached_at, coalesce(checked_at, attached_at))")
    op.execute(CHANGED_AT)
    op.execute("CREATE TRIGGER one_on_ones_changed_at BEFORE UPDATE ON one_on_ones "
               "FOR EACH ROW EXECUTE FUNCTION one_on_ones_changed_at()")
    op.create_index('one_on_ones_org_idx', 'one_on_ones', ['org_id', 'id'])
    op.create_index('one_on_ones_changed_idx', 'one_on_ones', ['org_id', 'changed_at', 'id'])

    op.create_table(
        'api_keys',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('key_hash', sa.LargeBinary(), nullable=False, unique=True),
        sa.Column('scopes', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        _created_at(),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('api_keys_org_idx', 'api_keys', ['org_id', 'id'])

    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('events', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('secret', sa.LargeBinary(), nullable=True),
        sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        _created_at(),
    )
    op.create_index('webhook_endpoints_org_idx', 'webhook_endpoints', ['org_id', 'id'])

    op.create_table(
        'webhook_events',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('msg_id', sa.String(length=40), nullable=False, unique=True),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('dedupe_key', sa.Text(), nullable=True),
        _created_at(),
        sa.UniqueConstraint('org_id', 'dedupe_key', name='webhook_events_dedupe_key'),
    )
    op.create_index('webhook_events_org_idx', 'webhook_events', ['org_id', 'id'])

    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('org_id', sa.Integer(), sa.ForeignKey('organizations.id', ondelete='CASCADE'), nullable=False),
        sa.Column('event_id', sa.BigInteger(), sa.ForeignKey('webhook_events.id', ondelete='CASCADE'), nullable=False),
        sa.Column('endpoint_id', sa.Integer(), sa.ForeignKey('webhook_endpoints.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('status', sa.Enum('pending', 'delivered', 'failed', name='webhook_delivery_status'), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('leased_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=200), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.UniqueConstraint('event_id', 'endpoint_id', name='webhook_deliveries_event_endpoint_key'),
    )
    op.create_index('webhook_deliveries_endpoint_idx', 'webhook_deliveries', ['endpoint_id', 'id'])
    op.create_index('webhook_deliveries_due_idx', 'webhook_deliveries', ['next_attempt_at'],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.execute("DROP TYPE IF EXISTS webhook_delivery_status")
    op.drop_table('webhook_events')
    op.drop_table('webhook_endpoints')
    op.drop_table('api_keys')
    op.drop_index('one_on_ones_changed_idx', 'one_on_ones')
    op.drop_index('one_on_ones_org_idx', 'one_on_ones')
    op.execute("DROP TRIGGER IF EXISTS one_on_ones_changed_at ON one_on_ones")
    op.execute("DROP FUNCTION IF EXISTS one_on_ones_changed_at()")
    op.drop_column('one_on_ones', 'changed_at')
