"""The audit chain in the database: append-only trigger, tamper detection, `flask audit verify`."""
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from listening import audit
from listening.audit import Action
from listening.core.models import Role
from tests.support import factories as f
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


def test_the_trigger_refuses_update_and_delete_in_plain_sql(app, database_url, chain):
    org, _ = chain
    with psycopg.connect(database_url) as conn:
        for statement in ("UPDATE audit_events SET action = 'auth:sign_in' WHERE org_id = %s",
                          "DELETE FROM audit_events WHERE org_id = %s"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement, (org.id,))
            conn.rollback()
        assert conn.execute("SELECT count(*) FROM audit_events WHERE org_id = %s", (org.id,)).fetchone()[0] == 5


def test_only_the_purge_setting_allows_delete_and_only_in_its_transaction(app, database_url, chain):
    org, _ = chain
    with psycopg.connect(database_url) as conn:
        conn.execute("SET LOCAL listening.audit_purge = 'on'")
        assert conn.execute("DELETE FROM audit_events WHERE org_id = %s AND seq = 1", (org.id,)).rowcount == 1
        conn.rollback()  # the test only proves the switch; nothing is removed
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events WHERE org_id = %s AND seq = 1", (org.id,))
        conn.rollback()
        conn.execute("SET LOCAL listening.audit_purge = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE audit_events SET action = 'x' WHERE org_id = %s", (org.id,))


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
def test_a_tampered_chain_is_detected_with_its_seq(session, chain, sql, seq, problem):
    org, _ = chain
    tamper(session, sql, org=org.id)
    verdict = audit.verify(session, org.id)
    assert not verdict.whole and verdict.broken_at_seq == seq and problem in verdict.problem


def test_a_rewritten_hash_is_caught_by_the_next_entry(session, chain):
    """Recomputing one entry's hash after editing it still breaks the link to its successor."""
    org, _ = chain
    tamper(session, "UPDATE audit_events SET details = '{\"n\": 7}' WHERE org_id = :org AND seq = 2", org=org.id)
    from listening.core.models import AuditEvent

    entry = session.query(AuditEvent).filter_by(org_id=org.id, seq=2).one()
    forged = audit.chain_hash(entry.prev_hash, entry)
    session.expunge_all()
    tamper(session, "UPDATE audit_events SET hash = :h WHERE org_id = :org AND seq = 2", h=forged, org=org.id)
    verdict = audit.verify(session, org.id)
    assert verdict.broken_at_seq == 3 and "does not follow" in verdict.problem


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


def test_cli_verify_names_the_break_and_exits_1(app, session, chain):
    org, _ = chain
    other = f.org(session, name="Other")
    audit.record(session, Action.sync, None, None, org_id=other.id)
    session.commit()
    tamper(session, "UPDATE audit_events SET action = 'auth:sign_in' WHERE org_id = :org AND seq = 4", org=org.id)
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
