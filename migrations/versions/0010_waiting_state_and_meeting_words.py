"""connection_state 'awaiting_approval'; one_on_ones.attention_code and meeting_words

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00

Waiting for the organization's approval is a state of its own (it was needs_reconnect
with a reason), and an attached 1-on-1 keeps, in words, which meeting it was, so that
the page can still say so after unlink has deleted the calendar copy.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new enum value cannot be used in the transaction that adds it.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE connection_state ADD VALUE IF NOT EXISTS 'awaiting_approval' "
                   "AFTER 'linked'")
    op.execute("UPDATE connections SET state = 'awaiting_approval' "
               "WHERE state = 'needs_reconnect' AND admin_consent_requested_at IS NOT NULL "
               "AND linked_at IS NULL")
    op.add_column('one_on_ones', sa.Column('attention_code', sa.String(length=40), nullable=True))
    op.add_column('one_on_ones', sa.Column('meeting_words', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('one_on_ones', 'meeting_words')
    op.drop_column('one_on_ones', 'attention_code')
    op.execute("UPDATE connections SET state = 'needs_reconnect' WHERE state = 'awaiting_approval'")
    # PostgreSQL cannot drop one value of an enum: the type is made again without it.
    op.execute("ALTER TYPE connection_state RENAME TO connection_state_0007")
    op.execute("CREATE TYPE connection_state AS ENUM "
               "('linked', 'needs_reconnect', 'error', 'disabled')")
    op.execute("ALTER TABLE connections ALTER COLUMN state TYPE connection_state "
               "USING state::text::connection_state")
    op.execute("DROP TYPE connection_state_0007")
