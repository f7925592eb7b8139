"""The use cases called directly, with Services built as the worker builds them: no Flask app
exists and no HTTP is involved. These are the fast tests of the logic; the web tests around the
same use cases check only what a page adds (forms, wording, redirects)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import has_app_context
from sqlalchemy import select

from listening import sync
from listening.admin import retention
from listening.core.models import AuditEvent, CalendarItem, ConnectionState, Person, Role
from listening.one_on_ones import manager_page
from listening.outlook import linking
from listening.outlook.connection import Outcome
from tests.integration import one_on_ones_helpers as team_of
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import clean, make_services


@pytest.fixture
def bare(database_url, redis_url, key_prefix, emu, tmp_path):
    """Services and nothing else: any use case that reached for Flask would fail here."""
    services = make_services(database_url, redis_url, key_prefix, emu.url, tmp_path)
    assert not has_app_context()
    yield services
    clean(services, key_prefix)


@pytest.fixture
def db(bare):
    session = bare.db.sessionmaker()
    yield session
    session.close()


def test_a_sync_runs_on_services_alone(bare, db, emu):
    connection = f.linked(bare, db, emu)
    report = sync.run(bare, connection.id)
    assert report.outcome is Outcome.ok and report.inserted == report.fetched > 0
    db.expire_all()
    stored = db.scalars(select(CalendarItem).where(CalendarItem.connection_id == connection.id)).all()
    assert len(stored) == report.inserted and not has_app_context()


def test_check_connection_answers_as_the_linked_account(bare, db, emu):
    connection = f.linked(bare, db, emu)
    manager = db.get(Person, connection.person_id)
    result = linking.check_connection(bare, db, connection, manager)
    db.commit()
    assert result.ok and result.message.startswith(f"Connected: Microsoft answered as {manager.display_name}")
    entry = db.scalar(select(AuditEvent).where(AuditEvent.action == "connection:check"))
    assert entry.details == {"connection_id": connection.id, "ok": True} and entry.actor_id == manager.id


def test_check_connection_after_a_revoked_grant_needs_reconnect(bare, db, emu):
    connection = f.linked(bare, db, emu)
    manager = db.get(Person, connection.person_id)
    emu.fault(type="revoke_grant", user=connection.account_email)
    emu.fault(type="expire_tokens", user=connection.account_email)
    result = linking.check_connection(bare, db, connection, manager)
    db.commit()
    assert not result.ok and "withdrew Listening's access" in result.message
    db.expire_all()
    assert connection.state is ConnectionState.needs_reconnect


def test_retention_removes_what_ended_before_the_window(bare, db):
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    org = f.org(db)
    connection = f.connection(db, f.person(db, org, role=Role.manager), now - timedelta(days=1))
    cal.item(bare, db, connection, "long-gone", now - timedelta(days=40), now - timedelta(days=40, hours=-1))
    cal.item(bare, db, connection, "next-week", now + timedelta(days=7), now + timedelta(days=7, hours=1))
    db.commit()
    reports = retention.run(bare, now).organizations
    assert [(r.org_id, r.calendar_items) for r in reports] == [(org.id, 1)]
    db.expire_all()
    assert db.scalars(select(CalendarItem.provider_event_id)).all() == ["next-week"]


def test_the_manager_page_lists_a_weekly_1on1_as_a_candidate(bare, db):
    t = team_of.team(db, n_reports=1)
    report = t.reports[0]
    first = team_of.weekly_from(team_of.NOW)
    cal.store(bare, db, t.connection, cal.series(t.manager.email, [report.email], "Ana / Dana 1:1", first, 12)
              + cal.series(t.manager.email, [], "Focus time", first, 12))
    page = manager_page(db, bare.keys, t.manager, team_of.NOW)
    (section,) = page.reports
    assert section.person.id == report.id and section.attached is None
    assert [c.subject for c in section.candidates] == ["Ana / Dana 1:1"]
    assert page.problem is None and page.unreadable == 0
