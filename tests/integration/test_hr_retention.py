"""Retention: calendar data outside the window or stale, and audit entries past retention."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from listening import audit
from listening.admin import retention
from listening.audit import Action
from listening.core.models import AuditEvent, CalendarItem, Role
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.audit_chain import append_at, tamper

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def run(app):
    return retention.run(services_of(app), NOW).organizations


def event_ids(session, org_id):
    return set(session.scalars(select(CalendarItem.provider_event_id).where(CalendarItem.org_id == org_id)))


def test_calendar_items_outside_the_window_or_stale_are_removed_once(app, services, session):
    org = f.org(session)  # window 30 days back, 120 ahead; calendar retention 30 days
    boss, other_boss = f.person(session, org, role=Role.manager), f.person(session, org, role=Role.manager)
    fresh, stale = f.connection(session, boss, NOW - DAY), f.connection(session, other_boss, NOW - 45 * DAY)
    cal.item(services, session, fresh, "ended-40-days-ago", NOW - 40 * DAY, NOW - 40 * DAY + timedelta(hours=1))
    cal.item(services, session, fresh, "ended-10-days-ago", NOW - 10 * DAY, NOW - 10 * DAY + timedelta(hours=1))
    cal.item(services, session, fresh, "in-200-days", NOW + 200 * DAY, NOW + 200 * DAY + timedelta(hours=1))
    cal.item(services, session, fresh, "in-100-days", NOW + 100 * DAY, NOW + 100 * DAY + timedelta(hours=1))
    cal.item(services, session, fresh, "master-from-last-year", NOW - 400 * DAY, NOW - 400 * DAY + timedelta(hours=1),
             event_type="seriesMaster")
    cal.item(services, session, stale, "stale-copy", NOW + DAY, NOW + DAY + timedelta(hours=1))
    wider = f.org(session)
    wider.window_past_days = wider.retention_calendar_days = 60
    their_boss = f.person(session, wider, role=Role.manager)
    cal.item(services, session, f.connection(session, their_boss, NOW - DAY), "theirs-ended-40-days-ago",
             NOW - 40 * DAY, NOW - 40 * DAY + timedelta(hours=1))
    session.commit()

    reports = {r.org_id: r for r in run(app)}
    assert reports[org.id].calendar_items == 3 and reports[wider.id].calendar_items == 0
    assert event_ids(session, org.id) == {"ended-10-days-ago", "in-100-days", "master-from-last-year"}
    assert event_ids(session, wider.id) == {"theirs-ended-40-days-ago"}
    purged = session.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id,
                                                     AuditEvent.action == Action.retention_purged.value))
    assert purged.details["calendar_items"] == 3 and purged.actor_id is None

    entries_before = audit.count(session, org.id)
    assert [(r.calendar_items, r.audit_entries) for r in run(app)] == [(0, 0), (0, 0)]
    assert audit.count(session, org.id) == entries_before  # an idle run records nothing


@pytest.fixture
def aged_chain(session):
    org = f.org(session, name="Aged")  # audit retention 730 days
    for days_ago in (900, 800, 731):
        append_at(session, org.id, Action.sync, NOW - days_ago * DAY)
    for days_ago in (100, 1):
        append_at(session, org.id, Action.sync, NOW - days_ago * DAY)
    session.commit()
    return org


def test_the_audit_purge_removes_a_prefix_records_it_and_the_chain_still_verifies(app, session, aged_chain):
    org = aged_chain
    third_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.org_id == org.id, AuditEvent.seq == 3))
    assert [r.audit_entries for r in run(app)] == [3]
    seqs = list(session.scalars(select(AuditEvent.seq).where(AuditEvent.org_id == org.id).order_by(AuditEvent.seq)))
    assert seqs == [4, 5, 6]
    purge = session.scalar(select(AuditEvent).where(AuditEvent.org_id == org.id, AuditEvent.seq == 6))
    assert purge.action == "audit:purged"
    assert purge.details | {"older_than": None} == {"removed": 3, "first_seq": 1, "through_seq": 3,
                                                     "last_hash": third_hash.hex(), "older_than": None}
    assert audit.verify(session, org.id) == audit.Verdict(True, 3, first_seq=4)
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--org", org.tenant_id])
    assert result.exit_code == 0 and "chain whole, 3 entries checked, starting at #4" in result.output

    assert [r.audit_entries for r in run(app)] == [0]  # idempotent: nothing more, nothing recorded
    assert audit.count(session, org.id) == 3


def test_a_deletion_beyond_what_the_purge_recorded_is_detected(app, session, aged_chain, database_admin_url):
    org = aged_chain
    run(app)
    tamper(database_admin_url, "DELETE FROM audit_events WHERE org_id = :org AND seq = 4", org=org.id)
    verdict = audit.verify(session, org.id)
    assert not verdict.whole and verdict.broken_at_seq == 5
    assert "entries 1..4 are missing and no retention purge accounts for them" == verdict.problem


def test_purging_every_entry_keeps_the_chain_going(app, session):
    org = f.org(session)
    for days_ago in (800, 790):
        append_at(session, org.id, Action.sync, NOW - days_ago * DAY)
    session.commit()
    assert [r.audit_entries for r in run(app)] == [2]
    entry = audit.record(session, Action.sync, None, None, org_id=org.id)
    session.commit()
    assert entry.seq == 4  # after the purge entry (3), never a new genesis
    assert audit.verify(session, org.id) == audit.Verdict(True, 2, first_seq=3)


def test_the_purge_respects_each_organizations_retention(app, session, aged_chain):
    keep_long = f.org(session)
    keep_long.retention_audit_days = 3650
    append_at(session, keep_long.id, Action.sync, NOW - 900 * DAY)
    session.commit()
    reports = {r.org_id: r.audit_entries for r in run(app)}
    assert reports == {aged_chain.id: 3, keep_long.id: 0}
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.org_id == keep_long.id)) == 1


def test_the_daily_job_reports_totals(app, session):
    from jobs import retention as retention_job
    from jobs import runtime

    org, now = f.org(session), datetime.now(UTC)  # the job reads the real clock
    for days_ago in (900, 800, 731, 1):
        append_at(session, org.id, Action.sync, now - days_ago * DAY)
    session.commit()
    runtime.use(services_of(app))
    try:
        first = retention_job.purge_expired()
        second = retention_job.purge_expired()
    finally:
        runtime.use(None)
    assert first == {"organizations": 1, "calendar_items": 0, "audit_entries": 3,
                     "sign_in_refusal_buckets": 0}
    assert second == {"organizations": 1, "calendar_items": 0, "audit_entries": 0,
                      "sign_in_refusal_buckets": 0}
    from listening.audit import log as audit_log

    verdict = audit_log.last_verdict(session, org.id)  # each run ends by verifying the chain
    assert verdict.actor_id is None and verdict.details["whole"] is True and verdict.details["first_seq"] == 4


def test_flask_retention_run_reports_per_organization(app, session):
    org, now = f.org(session), datetime.now(UTC)
    for days_ago in (800, 1):
        append_at(session, org.id, Action.sync, now - days_ago * DAY)
    session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert f"organization {org.id}: removed 0 calendar items and 1 audit entries" in result.output
    assert audit.verify(session, org.id).whole
