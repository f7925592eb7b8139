"""people.session_version; sign_in_refusals

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 11:30:00

Sign-out, deactivation and erasure now end every session issued before them
(listening/web/security.py), and refused
sign-ins that belong to no organization are counted per hour, reason and address
(listening/audit/refusals.py).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('people', sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'sign_in_refusals',
        sa.Column('id', sa.BigInteger(), primary_key=True),
        sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.String(length=40), nullable=False),
        sa.Column('ip', postgresql.INET(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_detail', sa.String(length=120), nullable=True),
        sa.Column('last_user_agent', sa.String(length=400), nullable=True),
        sa.Column('last_tenant_id', sa.String(length=64), nullable=True),
        sa.UniqueConstraint('hour', 'reason', 'ip', name='sign_in_refusals_bucket_key',
                            postgresql_nulls_not_distinct=True),
    )


def downgrade() -> None:
    op.drop_table('sign_in_refusals')
    op.drop_column('people', 'session_version')
