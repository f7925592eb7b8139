"""audit: keyed chain, append-only for the runtime role, one purge function

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 09:00:00

- ``key_id``: the key ring's key id whose derived audit key made the entry's HMAC
  (listening/audit/chain.py). Entries written before have none and keep their plain
  SHA-256, which ``verify`` still reads; a NOT VALID check constraint refuses any new
  row without a key id while leaving those rows as they are.
- The guard trigger no longer honours a setting that any session could set: DELETE is
  allowed only to the table's owner with ``listening.audit_purge`` on, which is what the
  ``audit_purge`` function (SECURITY DEFINER, owned by the owner, fixed search_path,
  the setting switched on only inside its body) is. The runtime role has no EXECUTE on anything
  else that deletes, owns nothing, and so cannot disable or alter the trigger
  (listening/core/roles.py grants it INSERT and SELECT on this table only).
- A statement trigger refuses TRUNCATE, for every role.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SIGNATURE = ("audit_purge(integer, bigint, bigint, timestamp with time zone, jsonb, bytea, bytea, "
             "text)")
# The settings page's lowest audit retention (listening/admin/settings.py); the function
# refuses to purge under a lower one, whoever changed the row.
MIN_RETENTION_DAYS = 90

GUARD = """
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_setting('listening.audit_purge', true) = 'on'
     AND (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID)
         = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

OLD_GUARD = """
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('listening.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

PURGE = """
CREATE FUNCTION audit_purge(p_org integer, p_through bigint, p_seq bigint,
                            p_occurred_at timestamptz, p_details jsonb, p_prev_hash bytea,
                            p_hash bytea, p_key_id text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
SET search_path = {schema}, pg_temp
AS $$
DECLARE
  v_days integer; v_first bigint; v_count bigint; v_newest timestamptz; v_last_hash bytea;
  v_tip_seq bigint; v_tip_hash bytea; v_removed bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7000001, p_org);
  SELECT retention_audit_days INTO v_days FROM organizations WHERE id = p_org;
  IF v_days IS NULL THEN
    RAISE EXCEPTION 'audit purge: no organization %', p_org;
  END IF;
  IF v_days < {min_days} THEN
    RAISE EXCEPTION 'audit purge: retention of % days is below the minimum of {min_days}', v_days;
  END IF;
  SELECT min(seq), count(*), max(occurred_at) INTO v_first, v_count, v_newest
    FROM audit_events WHERE org_id = p_org AND seq <= p_through;
  IF v_count = 0 THEN
    RAISE EXCEPTION 'audit purge: nothing up to entry %', p_through;
  END IF;
  IF v_newest >= now() - make_interval(days => v_days) THEN
    RAISE EXCEPTION 'audit purge: entries up to % are not all older than % days', p_through, v_days;
  END IF;
  SELECT hash INTO v_last_hash FROM audit_events WHERE org_id = p_org AND seq = p_through;
  SELECT seq, hash INTO v_tip_seq, v_tip_hash FROM audit_events
    WHERE org_id = p_org ORDER BY seq DESC LIMIT 1;
  IF v_last_hash IS NULL OR p_seq IS DISTINCT FROM v_tip_seq + 1
     OR p_prev_hash IS DISTINCT FROM v_tip_hash THEN
    RAISE EXCEPTION 'audit purge: the purge entry does not continue the chain';
  END IF;
  IF p_key_id IS NULL
     OR p_details->>'removed' IS DISTINCT FROM v_count::text
     OR p_details->>'first_seq' IS DISTINCT FROM v_first::text
     OR p_details->>'through_seq' IS DISTINCT FROM p_through::text
     OR p_details->>'last_hash' IS DISTINCT FROM encode(v_last_hash, 'hex') THEN
    RAISE EXCEPTION 'audit purge: the purge entry does not describe what it removes';
  END IF;
  -- Read by the guard trigger, together with current_user (this function's owner): set
  -- here, for this transaction, and switched off again before returning.
  PERFORM set_config('listening.audit_purge', 'on', true);
  INSERT INTO audit_events (org_id, seq, occurred_at, action, actor_id, subject_id, ip, user_agent,
                            details, prev_hash, hash, key_id)
  VALUES (p_org, p_seq, p_occurred_at, 'audit:purged', NULL, NULL, NULL, NULL,
          p_details, p_prev_hash, p_hash, p_key_id);
  DELETE FROM audit_events WHERE org_id = p_org AND seq <= p_through;
  GET DIAGNOSTICS v_removed = ROW_COUNT;
  IF v_removed <> v_count THEN
    RAISE EXCEPTION 'audit purge: removed % entries, expected %', v_removed, v_count;
  END IF;
  PERFORM set_config('listening.audit_purge', 'off', true);
  RETURN v_removed;
END $$;
"""


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('key_id', sa.String(length=64), nullable=True))
    op.execute("ALTER TABLE audit_events ADD CONSTRAINT audit_events_keyed "
               "CHECK (key_id IS NOT NULL) NOT VALID")
    op.execute(GUARD)
    op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_guard()")
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    op.execute(PURGE.format(schema=schema, min_days=MIN_RETENTION_DAYS))
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.execute(OLD_GUARD)
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_keyed")
    op.drop_column('audit_events', 'key_id')
