"""The sync use case on real PostgreSQL against the emulator: what it stores, that an unchanged
mailbox writes nothing, what it updates and deletes, and what it leaves alone."""
from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select, text

from listening import sync
from listening.core.models import (
    AuditEvent,
    CalendarItem,
    ConnectionState,
    Organization,
)
from listening.outlook import graph
from listening.outlook.connection import Outcome
from tests.integration import sync_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of


@pytest.fixture
def world(emu):
    """Tests that edit the demo calendars rebuild the world afterwards."""
    yield emu
    emu.reset(world=True)


def _graph_view(emu, email: str) -> list[dict]:
    """The mailbox as Graph shows it in the organization's default window (for comparison)."""
    token = emu.mint_token(email)["access_token"]
    now = datetime.now(UTC)
    response = requests.get(emu.url + "/v1.0/me/calendarView", timeout=10, params={
        "startDateTime": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endDateTime": (now + timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ"), "$top": "1000"},
        headers={"Authorization": "Bearer " + token})
    return response.json()["value"]


def test_a_first_sync_stores_every_event_once_trimmed_and_encrypted(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    report = sync.run(services_of(app), connection.id)
    expected = _graph_view(emu, connection.account_email)
    assert report.outcome is Outcome.ok and report.requests == 1
    assert report.fetched == report.inserted == len(expected) > 20
    stored = {i.provider_event_id: i for i in h.items(session, connection.id)}
    assert set(stored) == {e["id"] for e in expected}
    for event in expected:
        item = stored[event["id"]]
        data = h.decrypted(app, item)
        assert "body" not in data and "bodyPreview" not in data and "location" not in data
        assert data["changeKey"] == item.change_key == event["changeKey"]
        assert item.series_id == event.get("seriesMasterId") and item.event_type == event["type"]
        assert item.start_utc == datetime.fromisoformat(event["start"]["dateTime"][:19]).replace(tzinfo=UTC)
        assert item.is_cancelled is event["isCancelled"] and item.org_id == connection.org_id
        if event["sensitivity"] != "normal":
            assert "subject" not in data and "attendees" not in data and "webLink" not in data


def test_stored_data_is_bound_to_its_row(app, session, emu):
    """provider_data copied into another row does not decrypt (crypto's associated data)."""
    connection = f.linked(services_of(app), session, emu)
    sync.run(services_of(app), connection.id)
    first, second = h.items(session, connection.id)[:2]
    from listening.core.crypto import CryptoError

    with pytest.raises(CryptoError):
        h.decrypted(app, CalendarItem(connection_id=second.connection_id,
                                      provider_event_id=second.provider_event_id,
                                      provider_data=first.provider_data))


def test_each_sync_is_audited_with_counts_and_never_content(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    report = sync.run(services_of(app), connection.id, trigger="manual")
    entry = session.scalar(select(AuditEvent).where(AuditEvent.action == "calendar:sync"))
    assert entry.subject_id == connection.person_id and entry.actor_id is None
    assert entry.details["outcome"] == "ok" and entry.details["trigger"] == "manual"
    assert entry.details["inserted"] == report.inserted and entry.details["requests"] == 1
    assert "ms" in entry.details
    text_of_entry = json.dumps(entry.details)
    for item in h.items(session, connection.id):
        assert h.decrypted(app, item).get("subject", "\0") not in text_of_entry


def test_an_unchanged_mailbox_re_syncs_with_zero_row_writes(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    sync.run(services_of(app), connection.id)
    before = h.row_versions(session, connection.id)
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.ok and report.rows_written == 0
    assert report.unchanged == report.fetched == len(before)
    assert h.row_versions(session, connection.id) == before  # same ids, same xmin: nothing rewritten


def test_a_changed_event_rewrites_that_row_only(app, session, world):
    connection = f.linked(services_of(app), session, world)
    sync.run(services_of(app), connection.id)
    before = h.row_versions(session, connection.id)
    public = next(i for i in h.items(session, connection.id)
                  if i.event_type == "occurrence" and h.decrypted(app, i).get("subject"))
    world.calendar(action="set_sensitivity", event_id=public.provider_event_id, sensitivity="private")
    report = sync.run(services_of(app), connection.id)
    assert (report.updated, report.inserted, report.deleted) == (1, 0, 0)
    after = h.row_versions(session, connection.id)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {public.provider_event_id} and before[public.provider_event_id][0] == after[public.provider_event_id][0]
    data = h.decrypted(app, next(i for i in h.items(session, connection.id)
                                 if i.provider_event_id == public.provider_event_id))
    assert data["sensitivity"] == "private" and "subject" not in data and "attendees" not in data


def test_events_gone_from_the_window_are_deleted_but_past_ones_are_left_to_retention(app, session, world):
    connection = f.linked(services_of(app), session, world)
    sync.run(services_of(app), connection.id)
    occurrence = next(i.provider_event_id for i in h.items(session, connection.id)
                      if i.event_type == "occurrence" and i.start_utc > datetime.now(UTC))
    long_ago = datetime.now(UTC) - timedelta(days=90)
    cal.item(services_of(app), session, connection, "old-one", long_ago, long_ago + timedelta(hours=1))
    cal.item(services_of(app), session, connection, "vanished", datetime.now(UTC),
             datetime.now(UTC) + timedelta(hours=1))
    session.commit()
    world.calendar(action="cancel_occurrence", event_id=occurrence)
    report = sync.run(services_of(app), connection.id)
    ids = {i.provider_event_id for i in h.items(session, connection.id)}
    assert report.deleted == 2
    assert "vanished" not in ids and occurrence not in ids and "old-one" in ids


def test_a_sync_touches_only_its_own_connection(app, session, emu):
    first_email, second_email = f.manager_emails(emu)[:2]
    first = f.linked(services_of(app), session, emu, first_email)
    second = f.linked(services_of(app), session, emu, second_email, org=session.get(Organization, first.org_id))
    sync.run(services_of(app), second.id)
    before = h.row_versions(session, second.id)
    sync.run(services_of(app), first.id)
    assert h.row_versions(session, second.id) == before
    assert h.count(session, first.id) > 0


def test_success_plans_the_next_sync_one_interval_later(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    sync.run(services_of(app), connection.id, now=now)
    after = h.connection(session, connection.id)
    assert after.last_sync_at == now and after.last_sync_outcome == "ok" and after.failure_count == 0
    assert after.next_sync_at == now + timedelta(minutes=60)


def test_a_second_sync_of_the_same_connection_waits_its_turn(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    with services_of(app).db.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_xact_lock(7000005, :id)"), {"id": connection.id})
        report = sync.run(services_of(app), connection.id)
        other.rollback()
    assert report.outcome is Outcome.busy and h.count(session, connection.id) == 0


@pytest.mark.parametrize("state", [ConnectionState.needs_reconnect, ConnectionState.error,
                                   ConnectionState.disabled])
def test_a_connection_that_is_not_linked_is_skipped(app, session, emu, state):
    connection = f.linked(services_of(app), session, emu)
    connection.state = state
    session.commit()
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.skipped and report.requests == 0
    assert emu.stats()["requests"] == 0


def test_an_organization_with_sync_turned_off_is_skipped(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    session.get(Organization, connection.org_id).sync_enabled = False
    session.commit()
    assert sync.run(services_of(app), connection.id).outcome is Outcome.skipped


def test_a_successful_sync_re_checks_the_attached_1on1s_and_a_failed_one_does_not(app, session, emu,
                                                                                  monkeypatch):
    from listening.sync import mailbox

    calls = []
    monkeypatch.setattr(mailbox, "recheck_after_sync",
                        lambda session, keys, connection: calls.append(connection.id))
    connection = f.linked(services_of(app), session, emu)
    sync.run(services_of(app), connection.id)
    assert calls == [connection.id]
    emu.fault(type="mailbox_not_enabled", mailbox=connection.account_email)
    sync.run(services_of(app), connection.id)
    assert calls == [connection.id]


def test_the_cycle_collector_is_off_while_pages_are_stored_and_back_after_a_failure(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    now = datetime.now(UTC)
    window = (now - timedelta(days=30), now + timedelta(days=120))
    collector_on = []

    def pages():
        collector_on.append(gc.isenabled())
        yield []
        collector_on.append(gc.isenabled())
        yield [{"subject": "an event without an id"}]

    assert gc.isenabled()
    try:
        with app.app_context(), pytest.raises(graph.MalformedResponseError):
            sync.store_pages(session, connection, services_of(app).keys, pages(), window, now, sync.SyncReport(connection.id))
        assert collector_on == [False, False] and gc.isenabled()
    finally:
        gc.enable()  # never leave the rest of the suite without it
        session.rollback()
    gc.disable()
    try:  # a caller that had turned it off keeps it off
        with app.app_context():
            sync.store_pages(session, connection, services_of(app).keys, [[]], window, now, sync.SyncReport(connection.id))
        assert not gc.isenabled()
    finally:
        gc.enable()
        session.rollback()


def test_a_stored_token_that_will_not_decrypt_fails_the_sync_in_plain_words(app, session, emu):
    """A key taken out of the ring (or a damaged row): the manager reads why, nothing is written."""
    connection = f.linked(services_of(app), session, emu)
    connection.access_token = connection.refresh_token = b"\x01\x07missing" + bytes(40)
    session.commit()
    report = sync.run(services_of(app), connection.id)
    session.expire_all()
    assert report.outcome is Outcome.failed and "cannot read the saved permission" in report.detail
    assert "CryptoError" not in connection.state_reason and "cannot read the saved permission" in connection.state_reason
    assert connection.state is ConnectionState.linked and connection.failure_count == 1
    assert h.items(session, connection.id) == []


def test_the_writer_refuses_a_row_that_does_not_name_every_column(app, session, emu):
    """A column added to calendar_items must be given its value by the sync, not left to chance."""
    from listening.sync import store

    connection = f.linked(services_of(app), session, emu)
    row = dict.fromkeys(store.COLUMNS)
    try:
        with store.Writer(session) as writer:
            for wrong in ({k: v for k, v in row.items() if k != "trim_version"}, row | {"extra": 1}):
                with pytest.raises(ValueError, match="must name exactly"):
                    writer.write([wrong], [])
                with pytest.raises(ValueError, match="must name exactly"):
                    writer.write([], [wrong])
    finally:
        session.rollback()
    assert h.count(session, connection.id) == 0
