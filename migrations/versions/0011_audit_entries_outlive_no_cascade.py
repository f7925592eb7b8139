"""audit: no foreign key's cascade can remove audit entries

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00

The guard trigger lets a DELETE of audit entries through only for the table's owner with
``listening.audit_purge`` on, which is meant to be the ``audit_purge`` function alone.
But a foreign key's ON DELETE CASCADE deletes as the owner of the referencing table too,
and any session may set a custom setting: the runtime role could remove every entry of an
organization with ``SET listening.audit_purge = 'on'`` and a DELETE of the organization.
Two closings, each enough alone:

- ``audit_events.org_id`` references ``organizations`` ON DELETE RESTRICT: an organization
  that has an audit log cannot be deleted (Listening never deletes one);
- the guard lets a DELETE through only from a statement a function ran itself (trigger
  depth 1), never from inside another trigger, such as a foreign key's action.
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

FOREIGN_KEY = "audit_events_org_id_fkey"

GUARD = """
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND pg_catalog.pg_trigger_depth() = 1
     AND current_setting('listening.audit_purge', true) = 'on'
     AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
         = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

PREVIOUS_GUARD = GUARD.replace("     AND pg_catalog.pg_trigger_depth() = 1\n", "")


def _foreign_key(on_delete: str) -> None:
    op.drop_constraint(FOREIGN_KEY, "audit_events", type_="foreignkey")
    op.create_foreign_key(FOREIGN_KEY, "audit_events", "organizations", ["org_id"], ["id"],
                          ondelete=on_delete)


def upgrade() -> None:
    _foreign_key("RESTRICT")
    op.execute(GUARD)


def downgrade() -> None:
    op.execute(PREVIOUS_GUARD)
    _foreign_key("CASCADE")
