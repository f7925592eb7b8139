"""The audit chain in the database: append-only trigger, tamper detection, `flask audit verify`."""
from datetime import UTC, datetime, timedelta

import json

import psycopg
import pytest

from listening import audit
from listening.audit import Action
from listening.core.models import Role
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.audit_chain import append_at, tamper


@pytest.fixture
def chain(session):
    """An organization with five entries, committed."""
    org = f.org(session, name="Chained")
    admin = f.person(session, org, role=Role.hr_admin)
    for n in range(5):
        audit.record(session, Action.sync, None, None, {"n": n}, org_id=org.id)
    session.commit()
    return org, admin


RUNTIME_REFUSED = [
    "UPDATE audit_events SET action = 'auth:sign_in' WHERE org_id = %(org)s",
    "DELETE FROM audit_events WHERE org_id = %(org)s",
    "TRUNCATE audit_events",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_events_append_only ON audit_events",
    "ALTER TABLE audit_events DROP CONSTRAINT audit_events_keyed",
    "SET session_replication_role = replica",
    "CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RETURN OLD; END $$",
    "SET ROLE postgres",
]


@pytest.mark.parametrize("statement", RUNTIME_REFUSED)
def test_the_app_role_may_only_insert_and_read_audit_entries(app, database_url, chain, statement):
    """The role web, worker and clock run as cannot change, remove or unguard an entry."""
    org, _ = chain
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement, {"org": org.id} if "%(org)s" in statement else None)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM audit_events WHERE org_id = %s", (org.id,)).fetchone()[0] == 5


def test_the_old_purge_switch_lifts_nothing(app, database_url, chain):
    """Any session could set listening.audit_purge; it no longer opens the table to DELETE."""
    org, _ = chain
    with psycopg.connect(database_url) as conn:
        conn.execute("SET listening.audit_purge = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events WHERE org_id = %s AND seq = 1", (org.id,))


def test_deleting_the_organization_takes_no_entry_with_it(app, database_owner_url, chain):
    """A foreign key's cascade deletes as the table's owner, and anyone may set the purge switch.
    The runtime role may not delete an organization at all (test_runtime_grants.py); the owner,
    who may, is refused by the foreign key."""
    org, _ = chain
    with psycopg.connect(database_owner_url) as conn:
        conn.execute("SET listening.audit_purge = 'on'")
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute("DELETE FROM organizations WHERE id = %s", (org.id,))
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM audit_events WHERE org_id = %s", (org.id,)).fetchone()[0] == 5


def test_the_guard_refuses_a_delete_made_by_another_trigger(app, databases, chain):
    """Were a cascading key and the runtime role's DELETE on organizations ever added again,
    the guard alone still holds: a superuser puts both back for a single transaction and lets
    the runtime role try."""
    org, _ = chain
    runtime = psycopg.conninfo.conninfo_to_dict(databases.runtime)["user"]
    with psycopg.connect(databases.admin) as conn:
        conn.execute("ALTER TABLE audit_events DROP CONSTRAINT audit_events_org_id_fkey")
        conn.execute("ALTER TABLE audit_events ADD CONSTRAINT audit_events_org_id_fkey FOREIGN KEY (org_id) "
                     "REFERENCES organizations (id) ON DELETE CASCADE")
        conn.execute(f'GRANT DELETE ON organizations TO "{runtime}"')
        conn.execute(f'SET ROLE "{runtime}"')
        conn.execute("SET listening.audit_purge = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"append-only \(DELETE refused"):
            conn.execute("DELETE FROM organizations WHERE id = %s", (org.id,))
        conn.rollback()


@pytest.mark.parametrize("statement, what", [
    ("UPDATE audit_events SET action = 'x' WHERE org_id = %(org)s", "UPDATE"),
    ("DELETE FROM audit_events WHERE org_id = %(org)s", "DELETE"),
    ("TRUNCATE audit_events", "TRUNCATE"),
])
def test_the_trigger_refuses_even_the_owner(app, database_owner_url, chain, statement, what):
    org, _ = chain
    with psycopg.connect(database_owner_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"append-only \\({what} refused"):
            conn.execute(statement, {"org": org.id} if "%(org)s" in statement else None)


def test_the_purge_function_removes_nothing_within_the_retention(app, database_url, chain):
    """The one way out for old entries checks the span itself, whatever the caller says."""
    org, _ = chain
    with psycopg.connect(database_url) as conn:
        last = conn.execute("SELECT seq, hash FROM audit_events WHERE org_id = %s ORDER BY seq DESC LIMIT 1",
                            (org.id,)).fetchone()
        details = json.dumps({"removed": 5, "first_seq": 1, "through_seq": 5, "last_hash": last[1].hex()})
        with pytest.raises(psycopg.errors.RaiseException, match="not all older than 730 days"):
            conn.execute("SELECT audit_purge(%s, 5, %s, now(), %s, %s, %s, 'k1')",
                         (org.id, last[0] + 1, details, last[1], b"x" * 32))
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM audit_events WHERE org_id = %s", (org.id,)).fetchone()[0] == 5


def test_the_grants_step_closes_the_purge_function_to_everyone_else(databases):
    """A restore without privileges (pg_restore -x) leaves a new function open to PUBLIC; the
    grants that follow every upgrade close it again."""
    from listening.cli.schema import migrate
    from listening.core.roles import PURGE_FUNCTION

    can_run = f"SELECT has_function_privilege('public', '{PURGE_FUNCTION}', 'EXECUTE')"
    with psycopg.connect(databases.owner, autocommit=True) as conn:
        conn.execute(f"GRANT EXECUTE ON FUNCTION {PURGE_FUNCTION} TO PUBLIC")
        assert conn.execute(can_run).fetchone()[0] is True
    migrate(databases.owner, databases.runtime)
    with psycopg.connect(databases.owner) as conn:
        assert conn.execute(can_run).fetchone()[0] is False
    with psycopg.connect(databases.runtime) as conn:
        runtime_can_run = can_run.replace("'public'", "current_user")
        assert conn.execute(runtime_can_run).fetchone()[0] is True


@pytest.mark.parametrize("overrides, refused", [
    ({"database_url": "owner"}, "owner of the tables"),
    ({"database_url": "admin"}, "superuser"),
    ({}, None),
])
def test_production_refuses_to_run_as_the_owner_or_a_superuser(databases, redis_url, tmp_path, overrides,
                                                                refused):
    from listening import create_app
    from listening.core.config import ConfigError

    url = getattr(databases, overrides.get("database_url", "runtime"))
    config = {"env": "production", "database_url": url, "redis_url": redis_url, "secret_key": "s",
              "keys": "k1:" + "A" * 43 + "=", "ms_client_id": "id", "ms_client_secret": "secret",
              "ms_authority": "https://login.example.com", "graph_url": "https://graph.example.com/v1.0",
              "public_url": "https://listening.example.com", "instance_path": tmp_path}
    if refused:
        with pytest.raises(ConfigError, match=refused):
            create_app(config)
    else:
        services_of(create_app(config)).db.dispose()


def test_an_untouched_chain_verifies(session, chain):
    org, _ = chain
    assert audit.verify(session, org.id) == audit.Verdict(True, 5, first_seq=1)


@pytest.mark.parametrize("sql, seq, problem", [
    ("UPDATE audit_events SET details = '{\"n\": 99}' WHERE org_id = :org AND seq = 3", 3, "altered"),
    ("UPDATE audit_events SET actor_id = 1 WHERE org_id = :org AND seq = 4", 4, "altered"),
    ("UPDATE audit_events SET occurred_at = occurred_at - interval '1 day' WHERE org_id = :org AND seq = 2",
     2, "altered"),
    ("DELETE FROM audit_events WHERE org_id = :org AND seq = 3", 4, "entries 3..3 are missing"),
    ("DELETE FROM audit_events WHERE org_id = :org AND seq <= 2", 3, "no retention purge accounts"),
    ("UPDATE audit_events SET hash = sha256(hash) WHERE org_id = :org AND seq = 2", 2, "altered"),
])
def test_a_tampered_chain_is_detected_with_its_seq(session, chain, sql, seq, problem, database_admin_url):
    org, _ = chain
    tamper(database_admin_url, sql, org=org.id)
    verdict = audit.verify(session, org.id)
    assert not verdict.whole and verdict.broken_at_seq == seq and problem in verdict.problem


def test_a_rewritten_hash_is_caught_by_the_next_entry(session, chain, database_admin_url):
    """Even with the key, recomputing one entry's hash after editing it breaks the link to its
    successor."""
    org, _ = chain
    tamper(database_admin_url, "UPDATE audit_events SET details = '{\"n\": 7}' WHERE org_id = :org AND seq = 2", org=org.id)
    from listening.core.models import AuditEvent

    entry = session.query(AuditEvent).filter_by(org_id=org.id, seq=2).one()
    forged = audit.chain_hash(audit.keys_of(session), entry.prev_hash, entry)
    session.expunge_all()
    tamper(database_admin_url, "UPDATE audit_events SET hash = :h WHERE org_id = :org AND seq = 2", h=forged, org=org.id)
    verdict = audit.verify(session, org.id)
    assert verdict.broken_at_seq == 3 and "does not follow" in verdict.problem


def _rechain_without_our_key(session, admin_url, org_id, first_seq, edit):
    """What someone with the database but not the key ring can do: edit entries and recompute
    every hash from there on, under a key of their own."""
    from listening.core.crypto import KeyRing, new_key_spec
    from listening.core.models import AuditEvent

    theirs = KeyRing.parse(new_key_spec("k1"))  # same key id, not our key
    session.expire_all()
    entries = session.query(AuditEvent).filter_by(org_id=org_id).filter(AuditEvent.seq >= first_seq) \
        .order_by(AuditEvent.seq).all()
    prev = entries[0].prev_hash
    for entry in entries:
        edit(entry)
        entry.prev_hash = prev
        prev = entry.hash = audit.chain_hash(theirs, prev, entry)
        tamper(admin_url, "UPDATE audit_events SET details = :d, prev_hash = :p, hash = :h "
                          "WHERE org_id = :org AND seq = :seq",
               d=json.dumps(entry.details), p=entry.prev_hash, h=entry.hash, org=org_id, seq=entry.seq)
    session.expunge_all()


def test_an_edit_with_every_later_hash_recomputed_is_detected(session, chain, database_admin_url):
    org_id = chain[0].id
    _rechain_without_our_key(session, database_admin_url, org_id, 3,
                             lambda e: setattr(e, "details", {"n": 42}) if e.seq == 3 else None)
    verdict = audit.verify(session, org_id)
    assert not verdict.whole and verdict.broken_at_seq == 3 and "altered" in verdict.problem


def test_dropping_the_oldest_entries_behind_a_forged_purge_entry_is_detected(session, chain,
                                                                             database_admin_url):
    from listening.core.crypto import KeyRing, new_key_spec
    from listening.core.models import AuditEvent

    org = chain[0]
    org_id = org.id
    session.expire_all()
    last = session.query(AuditEvent).filter_by(org_id=org_id, seq=5).one()
    second = session.query(AuditEvent).filter_by(org_id=org.id, seq=2).one()
    forged = AuditEvent(org_id=org.id, seq=6, occurred_at=datetime.now(UTC), action="audit:purged",
                        actor_id=None, subject_id=None, ip=None, user_agent=None,
                        details=audit.purge_details(1, 2, second.hash, 2, datetime.now(UTC)),
                        prev_hash=last.hash, key_id="k1")
    forged.hash = audit.chain_hash(KeyRing.parse(new_key_spec("k1")), forged.prev_hash, forged)
    session.expunge_all()
    tamper(database_admin_url, "DELETE FROM audit_events WHERE org_id = :org AND seq <= 2", org=org.id)
    tamper(database_admin_url,
           "INSERT INTO audit_events (org_id, seq, occurred_at, action, details, prev_hash, hash, key_id) "
           "VALUES (:org, 6, now(), 'audit:purged', :d, :p, :h, 'k1')",
           org=org.id, d=json.dumps(forged.details), p=forged.prev_hash, h=forged.hash)
    verdict = audit.verify(session, org.id)
    assert not verdict.whole and verdict.broken_at_seq == 6 and "altered" in verdict.problem


def test_an_entry_under_a_key_no_longer_in_the_ring_is_named(app, session, chain):
    from listening.core.crypto import KeyRing, new_key_spec

    org, _ = chain
    verdict = audit.verify(session, org.id, keys=KeyRing.parse(new_key_spec("k2")))
    assert not verdict.whole and verdict.broken_at_seq == 1
    assert "written under key 'k1', which is not in the key ring" in verdict.problem


def test_rotation_continues_the_chain_and_older_entries_still_verify(app, session, chain):
    """A new key (appended last) signs new entries; entries under the older key still verify."""
    from listening.core.crypto import KeyRing, new_key_spec

    org, _ = chain
    rotated = KeyRing.parse(services_of(app).settings.keys + "," + new_key_spec("k2"))
    session.info["keys"] = rotated
    entry = audit.record(session, Action.sync, None, None, org_id=org.id)
    session.commit()
    assert entry.key_id == "k2"
    assert audit.verify(session, org.id) == audit.Verdict(True, 6, first_seq=1)
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--org", org.tenant_id])
    assert "chain BROKEN at entry #6" in result.output and "'k2', which is not in the key ring" in result.output


def test_verify_walks_past_one_batch(session):
    org = f.org(session)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(23):
        append_at(session, org.id, Action.sync, start + timedelta(minutes=n))
    session.commit()
    assert audit.verify(session, org.id, batch=5) == audit.Verdict(True, 23, first_seq=1)


def test_cli_verify_says_whole_and_exits_0(app, chain):
    org, _ = chain
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--org", org.tenant_id])
    assert result.exit_code == 0, result.output
    assert f"Chained ({org.tenant_id}): chain whole, 5 entries checked" in result.output


def test_cli_verify_names_the_break_and_exits_1(app, session, chain, database_admin_url):
    org, _ = chain
    other = f.org(session, name="Other")
    audit.record(session, Action.sync, None, None, org_id=other.id)
    session.commit()
    tamper(database_admin_url, "UPDATE audit_events SET action = 'auth:sign_in' WHERE org_id = :org AND seq = 4", org=org.id)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "Chained" in result.output and "chain BROKEN at entry #4: was altered after it was written" in result.output
    assert "Other" in result.output and "chain whole, 1 entries checked" in result.output


def test_cli_verify_unknown_tenant_is_bad_input(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--org", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["error: no organization for tenant nope"]


def test_addresses_in_any_spelling_verify(session):
    """PostgreSQL and Python print some addresses differently from how a request gives them."""
    org = f.org(session)
    for ip in ("2001:DB8::1", "::ffff:1.2.3.4", "fe80::1", "127.0.0.1", None):
        token = audit.origin.set(audit.Origin(ip=ip, user_agent="x" * 500))
        try:
            audit.record(session, Action.sign_in_refused, None, None, {"reason": "test"}, org_id=org.id)
        finally:
            audit.origin.reset(token)
    session.commit()
    session.expunge_all()
    assert audit.verify(session, org.id) == audit.Verdict(True, 5, first_seq=1)


def test_numbers_that_jsonb_respells_verify(session):
    org = f.org(session)
    audit.record(session, Action.sync, None, None,
                 {"big": 1e20, "whole": 2.0, "small": 1.5e-05, "nested": [{"x": 3.0e16}], "seconds": 0.1},
                 org_id=org.id)
    session.commit()
    session.expunge_all()
    assert audit.verify(session, org.id).whole
