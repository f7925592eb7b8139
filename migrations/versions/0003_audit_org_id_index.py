"""audit: (org_id, id) index for the audit log's unfiltered pages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:45:00

The audit page lists an organization's entries newest first, keyed on id
(listening/audit/log.py). Filtered pages use the (org_id, action|actor_id|subject_id, id)
indexes; without this one an unfiltered page walked the primary key backwards past
every other organization's newer entries (bench/audit_bench.py).
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('audit_org_id_idx', 'audit_events', ['org_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('audit_org_id_idx', table_name='audit_events')
