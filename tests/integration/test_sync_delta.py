"""calendarView delta for organizations on Calendars.ReadBasic, against the emulator
(docs/microsoft-graph.md §2): the same stored copy as calendarView, one request for an unchanged
calendar, an encrypted delta link, expired tokens, replays, removals outside the window, and a
403 that falls back to calendarView for good."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from listening import sync
from listening.core import crypto
from listening.core.models import CalendarDelta, CalendarItem, Organization
from listening.outlook import graph
from tests.integration import sync_helpers as h
from tests.integration.notification_helpers import (
    READ_BASIC,
    linked,
    meeting,
    notify_emulator,  # noqa: F401 - fixture
    served,  # noqa: F401 - fixture
)

DELTA = "GET /v1.0/me/calendarView/delta"
VIEW = "GET /v1.0/me/calendarView"


@pytest.fixture
def basic(served, session):
    """A linked calendar of an organization on Calendars.ReadBasic."""
    return linked(served, session, scopes=READ_BASIC, calendar_scope="Calendars.ReadBasic")


def _sync(served, connection_id):
    served.emu.reset()  # the stats count this sync's requests only
    report = sync.run(served.services, connection_id)
    assert report.outcome.value == "ok", report.detail
    return report, served.emu.stats()["by_endpoint"]


def _copy(served, session, connection_id) -> dict[str, dict]:
    return {item.provider_event_id: h.decrypted(served.app, item) for item in h.items(session, connection_id)}


def _state(session, connection_id) -> CalendarDelta:
    session.expire_all()
    return session.get(CalendarDelta, connection_id)


def test_delta_keeps_exactly_what_calendar_view_keeps(served, session, basic):
    report, calls = _sync(served, basic.id)
    assert calls == {DELTA: 1} and report.inserted > 0
    through_delta = _copy(served, session, basic.id)
    assert not any("body" in e or "bodyPreview" in e or "@odata.type" in e for e in through_delta.values())
    org = session.get(Organization, basic.org_id)
    org.calendar_scope = "Calendars.Read"
    session.execute(CalendarItem.__table__.delete())
    session.commit()
    report, calls = _sync(served, basic.id)
    assert calls == {VIEW: 1}
    through_view = _copy(served, session, basic.id)
    # Delta's round spans whole days around the window, so it may hold a few events more.
    assert through_view.keys() <= through_delta.keys()
    assert {k: through_delta[k] for k in through_view} == through_view


def test_an_unchanged_calendar_costs_one_request_and_writes_nothing(served, session, basic):
    _sync(served, basic.id)
    before = h.row_versions(session, basic.id)
    report, calls = _sync(served, basic.id)
    assert calls == {DELTA: 1} and report.rows_written == 0
    assert h.row_versions(session, basic.id) == before


def test_the_delta_link_is_stored_encrypted_for_its_window(served, session, basic):
    _sync(served, basic.id)
    state = _state(session, basic.id)
    assert state.delta_link and b"deltatoken" not in bytes(state.delta_link).lower()
    assert (state.window_start.hour, state.window_end.hour) == (0, 0)


def test_changes_come_in_the_next_round_and_removals_are_applied(served, session, basic):
    _sync(served, basic.id)
    event_id = meeting(served.emu, basic.account_email, "Added later")
    report, calls = _sync(served, basic.id)
    assert calls == {DELTA: 1} and report.inserted == 1
    assert _copy(served, session, basic.id)[event_id]["subject"] == "Added later"
    served.emu.calendar(action="delete_series", event_id=event_id)
    report, _ = _sync(served, basic.id)
    assert report.deleted == 1 and event_id not in _copy(served, session, basic.id)


def test_a_new_round_starts_when_the_window_moves(served, session, basic):
    first, _ = _sync(served, basic.id)
    state = _state(session, basic.id)
    state.window_start -= timedelta(days=1)  # as if the link were yesterday's
    session.commit()
    report, calls = _sync(served, basic.id)
    assert calls == {DELTA: 1} and report.fetched == first.fetched and report.rows_written == 0


@pytest.mark.parametrize("mode", ["410", "syncStateNotFound"])
def test_an_expired_delta_token_is_answered_by_a_full_round(served, session, basic, mode):
    _sync(served, basic.id)
    event_id = meeting(served.emu, basic.account_email, "While the token expired")
    held = _copy(served, session, basic.id)
    served.emu.reset()
    served.emu.fault(type="delta_reset", mailbox=basic.account_email, mode=mode)
    report = sync.run(served.services, basic.id)
    assert report.outcome.value == "ok" and served.emu.stats()["by_endpoint"] == {DELTA: 2}
    after = _copy(served, session, basic.id)
    assert after.keys() == held.keys() | {event_id} and report.inserted == 1


def test_replays_and_repeats_are_merged_idempotently(served, session, basic):
    _sync(served, basic.id)
    event_id = meeting(served.emu, basic.account_email, "Sent twice")
    served.emu.fault(type="delta_replay", mailbox=basic.account_email, events=5)
    report = sync.run(served.services, basic.id)
    assert report.inserted == 1 and report.updated == 0 and report.deleted == 0
    assert report.unchanged == 5
    assert _copy(served, session, basic.id)[event_id]["subject"] == "Sent twice"


def test_a_removal_outside_the_window_leaves_what_retention_keeps(served, session, basic):
    _sync(served, basic.id)
    old = meeting(served.emu, basic.account_email, "Long ago", days_ahead=-60)
    ended = datetime.now(UTC) - timedelta(days=60)
    session.add(CalendarItem(org_id=basic.org_id, connection_id=basic.id, provider_event_id=old,
                             event_type="singleInstance", start_utc=ended - timedelta(minutes=30),
                             end_utc=ended, change_key="kept", provider_data=b"x"))
    session.commit()
    served.emu.calendar(action="set_sensitivity", event_id=old, sensitivity="private")
    state = _state(session, basic.id)
    link = served.services.keys.decrypt(state.delta_link, crypto.aad_for("delta", basic.id, "link")).decode()
    token = served.emu.mint_token(basic.account_email, READ_BASIC)["access_token"]
    with graph.GraphClient(served.emu.url + "/v1.0", token) as client:
        rnd = client.calendar_view_delta(state.window_start, state.window_end, delta_link=link)
        assert {"id": old, "removed": True} in [{"id": i["id"], "removed": "@removed" in i}
                                                 for page in rnd for i in page]
    report, _ = _sync(served, basic.id)  # the same round: it names the old event @removed
    assert report.deleted == 0
    assert session.scalar(select(CalendarItem.change_key).where(CalendarItem.provider_event_id == old)) == "kept"


def test_a_403_from_delta_falls_back_to_calendar_view_and_is_remembered(served, session, basic, caplog):
    served.emu.fault(type="delta_forbidden", mailbox=basic.account_email)
    report = sync.run(served.services, basic.id)
    assert report.outcome.value == "ok" and report.inserted > 0
    assert "refused delta" in caplog.text
    assert _state(session, basic.id).forbidden_at is not None
    report, calls = _sync(served, basic.id)  # the fault is gone, the memory is not
    assert calls == {VIEW: 1} and report.rows_written == 0


def test_calendars_read_organizations_never_use_delta(served, session):
    connection = linked(served, session)
    _, calls = _sync(served, connection.id)
    assert calls == {VIEW: 1} and _state(session, connection.id) is None


def test_other_stored_fields_or_a_rewrite_need_a_whole_round(served, session, basic):
    first, _ = _sync(served, basic.id)
    state = _state(session, basic.id)
    state.trim_version = "older-fields"
    session.commit()
    report, calls = _sync(served, basic.id)
    assert calls == {DELTA: 1} and report.fetched == first.fetched
    assert _state(session, basic.id).trim_version != "older-fields"
    served.emu.reset()
    report = sync.run(served.services, basic.id, rewrite=True)  # flask sync --retrim
    assert report.fetched == first.fetched and report.updated == first.fetched
