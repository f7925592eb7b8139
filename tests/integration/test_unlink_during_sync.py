"""Unlink against a slow sync, and a real deadlock between a sync and another transaction.

The sync runs in a thread of the test process against the real PostgreSQL; the unlink
goes through the web app, as a manager's press of the button does. The emulator's
``latency`` fault makes each calendarView page take as long as the test needs.
"""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import select

from listening import sync
from listening.core.models import AuditEvent, CalendarItem, Connection, Person
from listening.outlook import graph
from listening.outlook.connection import Failure, Outcome
from tests.integration import sync_helpers as h
from tests.integration.sync_helpers import scale_window
from tests.support import factories as f
from tests.support.apps import clean, make_app, services_of


@pytest.fixture
def slow_app(database_url, redis_url, key_prefix, big_emulator, tmp_path):
    """Requests may take 30 s (a slow page of 23 s must not time out)."""
    app = make_app(database_url, redis_url, key_prefix, big_emulator.url, tmp_path, http_timeout=30.0)
    yield app
    clean(app, key_prefix)
    big_emulator.reset(world=True, tokens=True)


def _in_thread(target) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        out["started"] = time.monotonic()
        out["report"] = target()
        out["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _audit(session, org_id: int, action: str) -> list[dict]:
    session.expire_all()
    return [e.details for e in session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == org_id, AuditEvent.action == action).order_by(AuditEvent.seq))]


@pytest.mark.parametrize("into", [5, 60])
def test_unlink_5_and_60_seconds_into_a_70_second_sync_wins_at_once(slow_app, client, session, big_emulator, into):
    connection = f.linked(services_of(slow_app), session, big_emulator)
    cid, org_id, email = connection.id, connection.org_id, connection.account_email
    window = scale_window(big_emulator)
    sync.run(services_of(slow_app), cid, window=window)
    held = h.count(session, cid)
    big_emulator.reset()  # request counts from zero
    # Every event changed, and 23 s per page: a 70 s sync that rewrites every row it reads.
    big_emulator.calendar(action="touch_events", mailbox=email, count=held)
    big_emulator.fault(type="latency", ms=23_000, endpoint="calendarView")
    manager = session.get(Person, connection.person_id)
    f.sign_in_as(client, manager)
    token = f.csrf_token(client, "/one-on-ones")

    thread, out = _in_thread(lambda: sync.run(services_of(slow_app), cid, window=window))
    time.sleep(into)
    pages_served = big_emulator.stats()["by_endpoint"].get("GET /v1.0/me/calendarView", 0)
    asked = time.monotonic()
    response = client.post(f"/outlook/connections/{cid}/unlink", data={"csrf_token": token})
    answered = time.monotonic() - asked
    thread.join(60)
    report = out["report"]
    print(f"\nunlink {into} s into the sync ({pages_served} page requests sent, {report.pages} pages stored "
          f"uncommitted): answered {response.status_code} in {answered:.2f} s; the sync ended "
          f"{out['ended'] - asked:.2f} s after the unlink was asked, as {report.outcome.value} "
          f"({report.failure.value}); items held before {held}, after {h.count(session, cid)}")
    assert response.status_code == 200 and "unlinked" in response.get_data(as_text=True).lower()
    assert report.outcome is Outcome.stopped and report.failure is Failure.stopped_by_unlink
    session.expire_all()
    assert session.get(Connection, cid) is None
    assert session.scalar(select(CalendarItem.id).where(CalendarItem.connection_id == cid)) is None
    unlinked = _audit(session, org_id, "connection:unlink")[-1]
    assert unlinked["calendar_items_deleted"] == held == 2500
    stopped = _audit(session, org_id, "calendar:sync")[-1]
    assert stopped["outcome"] == "stopped" and stopped["failure"] == "stopped_by_unlink"


def test_a_deadlock_is_retried_at_once_once(database_admin_url, big_emulator, slow_app, session):
    """Another transaction holds a row the sync will update, then waits for the connection row
    the sync's inserts hold (FOR KEY SHARE): PostgreSQL breaks the cycle by cancelling the sync."""
    connection = f.linked(services_of(slow_app), session, big_emulator)
    window = scale_window(big_emulator)
    sync.run(services_of(slow_app), connection.id, window=window)
    pages = list(graph.GraphClient(big_emulator.url + "/v1.0",
                                   big_emulator.mint_token(connection.account_email)["access_token"])
                 .calendar_view(*window))
    on_page_1, on_page_3 = [e["id"] for e in pages[0][:10]], pages[2][0]["id"]
    big_emulator.calendar(action="set_sensitivity", event_id=on_page_3, sensitivity="private")
    with services_of(slow_app).db.unit_of_work() as uow:  # inserted again by the sync
        uow.query(CalendarItem).filter(CalendarItem.connection_id == connection.id,
                                       CalendarItem.provider_event_id.in_(on_page_1)).delete()
    big_emulator.fault(type="latency", ms=1500, endpoint="calendarView")
    other = psycopg.connect(database_admin_url)  # deadlock_timeout is a superuser's to set
    try:
        other.execute("SET deadlock_timeout = '30s'")  # so the sync's backend is the one that checks
        other.execute("UPDATE calendar_items SET updated_at = now() WHERE connection_id = %s "
                      "AND provider_event_id = %s", (connection.id, on_page_3))
        thread, out = _in_thread(lambda: sync.run(services_of(slow_app), connection.id, window=window))
        h.wait_for(lambda: other.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND pid <> pg_backend_pid()").fetchone()[0] > 0, timeout=30)
        other.execute("SELECT 1 FROM connections WHERE id = %s FOR UPDATE", (connection.id,))
        other.rollback()  # the sync was cancelled (our wait ended): let its retry through
    finally:
        other.close()
    thread.join(30)
    report = out["report"]
    print(f"\ndeadlock: the sync ended {report.outcome.value} after {report.attempts} attempts, "
          f"{report.inserted} inserted, {report.updated} updated")
    assert report.outcome is Outcome.ok and report.attempts == 2
    assert report.inserted == 10 and report.updated == 1 and h.count(session, connection.id) == 2500
    entry = _audit(session, connection.org_id, "calendar:sync")[-1]
    assert entry["outcome"] == "ok" and entry["attempts"] == 2
