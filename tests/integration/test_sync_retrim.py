"""A change of the stored fields reaches every stored copy: at the next sync, or at once with
``flask sync --retrim`` (which also trims the copies no sync reads)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import fields
from sqlalchemy import select

from listening import sync
from listening.core.models import AuditEvent, CalendarItem, ConnectionState, Organization
from listening.outlook import events
from listening.outlook.connection import Outcome
from listening.outlook.events import StoredEvent, StoredFields
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support.apps import services_of


class WithImportance(StoredEvent):
    importance = fields.String(allow_none=True)


WITHOUT_WEB_LINK = StoredFields(StoredEvent(exclude=("webLink",)))
WITH_IMPORTANCE = StoredFields(WithImportance())


def flask(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def _synced(app, session, emu, email=None, org=None):
    connection = f.linked(services_of(app), session, emu, email, org=org)
    assert sync.run(services_of(app), connection.id).outcome is Outcome.ok
    return connection


def _public_copies(app, session, connection_id) -> list[dict]:
    return [data for data in (h.decrypted(app, i) for i in h.items(session, connection_id))
            if data.get("sensitivity") == "normal"]


def test_stored_copies_record_the_version_of_the_fields_they_were_trimmed_with(app, session, emu):
    connection = _synced(app, session, emu)
    assert {i.trim_version for i in h.items(session, connection.id)} == {events.STORED.version}


def test_a_field_removed_disappears_from_every_copy_at_the_next_sync(app, session, emu, monkeypatch):
    connection = _synced(app, session, emu)
    assert any("webLink" in data for data in _public_copies(app, session, connection.id))
    monkeypatch.setattr(events, "STORED", WITHOUT_WEB_LINK)
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.ok and report.updated == report.fetched and report.unchanged == 0
    items = h.items(session, connection.id)
    assert {i.trim_version for i in items} == {WITHOUT_WEB_LINK.version}
    assert not any("webLink" in h.decrypted(app, i) for i in items)


def test_a_field_added_reaches_unchanged_events_at_the_next_sync(app, session, emu, monkeypatch):
    connection = _synced(app, session, emu)
    before = h.row_versions(session, connection.id)
    assert not any("importance" in data for data in _public_copies(app, session, connection.id))
    monkeypatch.setattr(events, "STORED", WITH_IMPORTANCE)
    report = sync.run(services_of(app), connection.id)
    assert report.updated == len(before) and report.inserted == report.deleted == 0
    assert all(data["importance"] for data in _public_copies(app, session, connection.id))
    rewritten = h.row_versions(session, connection.id)
    assert rewritten.keys() == before.keys() and all(rewritten[k] != before[k] for k in before)
    again = sync.run(services_of(app), connection.id)  # now current: nothing to write
    assert again.rows_written == 0 and h.row_versions(session, connection.id) == rewritten


def test_a_copy_of_unknown_version_is_rewritten_once(app, session, emu):
    """Copies stored before versions were recorded hold NULL."""
    connection = _synced(app, session, emu)
    first = h.items(session, connection.id)[0]
    first.trim_version = None
    session.commit()
    report = sync.run(services_of(app), connection.id)
    assert (report.updated, report.inserted, report.deleted) == (1, 0, 0)
    assert sync.run(services_of(app), connection.id).rows_written == 0


def _with_web_link(app, session, connection_id) -> list[CalendarItem]:
    return [i for i in h.items(session, connection_id) if "webLink" in h.decrypted(app, i)]


def test_retrim_rewrites_every_event_and_trims_the_copies_no_sync_reads(app, session, emu, monkeypatch):
    first_email, second_email = f.manager_emails(emu)[:2]
    linked = _synced(app, session, emu, first_email)
    unlinked = _synced(app, session, emu, second_email, org=session.get(Organization, linked.org_id))
    h.connection(session, unlinked.id).state = ConnectionState.needs_reconnect
    session.commit()
    old_version, held = events.STORED.version, h.count(session, linked.id)
    to_trim, unlinked_held = len(_with_web_link(app, session, unlinked.id)), h.count(session, unlinked.id)
    assert to_trim > 0
    monkeypatch.setattr(events, "STORED", WITHOUT_WEB_LINK)

    result = flask(app, "sync", "--retrim")

    assert result.exit_code == 0, result.stderr
    summary, in_place = result.stdout.strip().splitlines()
    assert summary.startswith("1 connections: 1 ok;") and f"{held} rows written" in summary
    assert in_place == (f"in place: {to_trim} stored copies trimmed, {unlinked_held - to_trim} held nothing "
                        "to remove, 0 would not decrypt")
    for connection in (linked, unlinked):
        assert _with_web_link(app, session, connection.id) == []
    assert {i.trim_version for i in h.items(session, linked.id)} == {WITHOUT_WEB_LINK.version}
    # Trimmed in place, a copy still lacks what an added field would hold: it keeps its version,
    # so the first sync that reads it rewrites it from Graph.
    assert {i.trim_version for i in h.items(session, unlinked.id)} == {old_version}
    entry = session.scalar(select(AuditEvent).where(AuditEvent.action == "calendar:retrimmed"))
    assert entry.details == {"calendar_items": to_trim, "trim_version": WITHOUT_WEB_LINK.version}


def test_retrim_rewrites_copies_that_are_already_current(app, session, emu):
    connection = _synced(app, session, emu)
    before = h.row_versions(session, connection.id)
    result = flask(app, "sync", "--retrim")
    assert result.exit_code == 0, result.stderr
    after = h.row_versions(session, connection.id)
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in before)
    assert result.stdout.strip().splitlines()[1] == (
        "in place: 0 stored copies trimmed, 0 held nothing to remove, 0 would not decrypt")


def test_retrim_exits_1_when_a_sync_fails(app, session, emu):
    connection = _synced(app, session, emu)
    emu.fault(type="mailbox_not_enabled", mailbox=connection.account_email)
    result = flask(app, "sync", "--retrim")
    assert result.exit_code == 1 and "1 error" in result.stdout


def test_retrim_leaves_a_copy_that_will_not_decrypt_and_exits_1(app, session, emu, monkeypatch):
    connection = _synced(app, session, emu)
    h.connection(session, connection.id).state = ConnectionState.disabled
    session.commit()
    damaged = h.items(session, connection.id)[0]
    damaged.provider_data = bytes(damaged.provider_data)[:-1] + b"\x00"
    session.commit()
    monkeypatch.setattr(events, "STORED", WITHOUT_WEB_LINK)
    result = flask(app, "sync", "--retrim")
    assert result.exit_code == 1 and result.stdout.strip().endswith("1 would not decrypt")


@pytest.mark.parametrize("args", [("--retrim", "--all"), ("--retrim", "--connection", "1")])
def test_retrim_with_another_choice_exits_2_with_one_line(app, args):
    result = flask(app, "sync", *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: give exactly one of --all or --connection ID, or --retrim"


def test_the_in_place_pass_keeps_a_row_a_sync_rewrote_meanwhile(app, session, emu, monkeypatch):
    """Each in-place UPDATE applies only to the ciphertext it read."""
    from listening.sync import retrim

    connection = _synced(app, session, emu)
    to_trim = _with_web_link(app, session, connection.id)
    chosen = to_trim[0].id
    real = retrim._retrimmed

    def then_a_sync_writes(rows, *args):
        changes = real(rows, *args)
        with services_of(app).db.unit_of_work() as other:
            other.get(CalendarItem, chosen).provider_data = b"written by a sync meanwhile"
        return changes

    monkeypatch.setattr(retrim, "_retrimmed", then_a_sync_writes)
    report = retrim.RetrimReport()
    retrim.trim_in_place(services_of(app), report, datetime.now(UTC), stored=WITHOUT_WEB_LINK)
    assert report.trimmed == len(to_trim) - 1
    session.expire_all()
    assert bytes(session.get(CalendarItem, chosen).provider_data) == b"written by a sync meanwhile"
