"""Keeping it right: after each sync, attached series are re-checked (needs attention, replacement, back to ok)."""
from __future__ import annotations

import itertools
import json
import re

import pytest

from listening.core.models import OneOnOne, OneOnOneStatus
from listening.one_on_ones import recheck_after_sync
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of

W = h.weekly_from


@pytest.fixture
def dana(app, session, client):
    t = h.team(session)
    m, ana, bo = t.manager.email, t.reports[0].email, t.reports[1].email
    t.events = (cal.series(m, [ana], "Ana / Dana 1:1", W(h.NOW), 12, series_id="S-ana", key=1)
                + cal.series(m, [bo], "Bo / Dana 1:1", W(h.NOW), 12, series_id="S-bo", key=2))
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    assert h.post(client, "/one-on-ones/attach", report_id=t.reports[0].id, series_id="S-ana").status_code == 303
    client.get("/one-on-ones")  # shows (and so clears) the "attached" message
    return t


def _resync(app, session, dana, events):
    """Store a new copy of the calendar, then run the re-check as sync.run does after a sync."""
    cal.store(services_of(app), session, dana.connection, events)
    with app.app_context():
        result = recheck_after_sync(session, services_of(app).keys, session.get(type(dana.connection), dana.connection.id))
    session.commit()
    return result


def _ana_pair(session, dana) -> OneOnOne:
    session.expire_all()
    return session.query(OneOnOne).filter_by(report_id=dana.reports[0].id).one()


_versions = itertools.count(1)


def _edit(events, series_id, **changes):
    """A new version of every occurrence of the series (a new change key, as Outlook gives)."""
    version = f"+{next(_versions)}"
    return [dict(e, changeKey=e["changeKey"] + version, **changes) if e["seriesMasterId"] == series_id
            else e for e in events]


def _attention_audits(session, dana):
    return [e.details for e in h.audits(session, dana.org.id, "one_on_one:needs_attention")]


def test_a_series_that_still_qualifies_stays_ok_and_is_not_audited_again(app, session, dana):
    result = _resync(app, session, dana, dana.events)
    pair = _ana_pair(session, dana)
    assert (result.checked, result.flagged, result.cleared) == (1, 0, 0)
    assert pair.status is OneOnOneStatus.ok and pair.checked_at is not None
    assert _attention_audits(session, dana) == []


def test_deleted_and_recreated_offers_the_new_series_and_one_click_replaces(app, client, session, dana):
    m, ana = dana.manager.email, dana.reports[0].email
    recreated = cal.series(m, [ana], "Ana / Dana 1:1 (new time)", W(h.NOW, 1, 18), 10, series_id="S-new")
    result = _resync(app, session, dana, [e for e in dana.events if e["seriesMasterId"] != "S-ana"] + recreated)
    pair = _ana_pair(session, dana)
    assert result.flagged == 1 and pair.status is OneOnOneStatus.needs_attention
    assert "no longer in your Outlook calendar" in pair.attention_reason
    assert pair.replacement_series_id == "S-new"
    [details] = _attention_audits(session, dana)
    assert details == {"one_on_one_id": pair.id, "series_id": "S-ana", "status": "needs_attention",
                       "reason": "gone", "replacement_series_id": "S-new"}
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Needs attention:" in page and "Replace with “Ana / Dana 1:1 (new time)”" in page
    form = re.search(r'<form[^>]*action="/one-on-ones/replace".*?</form>', page, re.S).group(0)
    assert 'value="S-new"' in form
    assert h.post(client, "/one-on-ones/replace", report_id=dana.reports[0].id, series_id="S-new").status_code == 303
    pair = _ana_pair(session, dana)
    assert (pair.series_id, pair.status, pair.replacement_series_id) == ("S-new", OneOnOneStatus.ok, None)


@pytest.mark.parametrize("change, reason", [
    ({"sensitivity": "private"}, "The meeting series was made private"),
    ({"isAllDay": True}, "became an all-day event"),
])
def test_a_series_that_stops_qualifying_needs_attention_and_clears_when_it_qualifies_again(
        app, session, dana, change, reason):
    _resync(app, session, dana, _edit(dana.events, "S-ana", **change))
    pair = _ana_pair(session, dana)
    assert pair.status is OneOnOneStatus.needs_attention and reason in pair.attention_reason
    assert pair.replacement_series_id is None
    result = _resync(app, session, dana, _edit(dana.events, "S-ana"))
    assert result.cleared == 1 and _ana_pair(session, dana).status is OneOnOneStatus.ok
    assert _ana_pair(session, dana).attention_reason is None
    assert [d["status"] for d in _attention_audits(session, dana)] == ["needs_attention", "ok"]


def test_the_report_declined(app, session, dana):
    ana = dana.reports[0].email
    declined = [dict(e, changeKey=e["changeKey"] + "+", attendees=[
        dict(a, status={"response": "declined"}) for a in e["attendees"]])
        if e["seriesMasterId"] == "S-ana" else e for e in dana.events]
    assert ana in json.dumps(declined)
    _resync(app, session, dana, declined)
    assert _ana_pair(session, dana).attention_reason == "Ana Costa declined the meeting series."


def test_more_people_invited_names_no_outside_address_in_the_stored_reason(app, session, dana):
    crowded = [dict(e, changeKey=e["changeKey"] + "+", attendees=e["attendees"] + [
        {"type": "required", "emailAddress": {"address": "guest@outside.example"}}])
        if e["seriesMasterId"] == "S-ana" else e for e in dana.events]
    _resync(app, session, dana, crowded)
    pair = _ana_pair(session, dana)
    assert "no longer a 1-on-1" in pair.attention_reason and "outside" not in pair.attention_reason
    assert _attention_audits(session, dana)[0]["reason"] == "not_two_people"


def test_the_report_moved_to_another_manager(app, session, dana):
    dana.reports[0].manager_id = dana.outsider.id
    session.commit()
    _resync(app, session, dana, dana.events)
    pair = _ana_pair(session, dana)
    assert pair.attention_reason == "Ana Costa no longer reports to you in the directory."
    assert _attention_audits(session, dana)[0]["reason"] == "not_your_report"


def test_the_series_ended_and_a_stale_reason_is_replaced_not_repeated(app, session, dana):
    ended = [e for e in dana.events if e["seriesMasterId"] != "S-ana"
             or e["start"]["dateTime"] < h.NOW.strftime("%Y-%m-%dT%H:%M:%S")]
    _resync(app, session, dana, ended)
    assert "has ended" in _ana_pair(session, dana).attention_reason
    _resync(app, session, dana, ended)
    assert len(_attention_audits(session, dana)) == 1, "the same state is not audited twice"
    _resync(app, session, dana, [e for e in dana.events if e["seriesMasterId"] != "S-ana"])
    assert "no longer in your Outlook calendar" in _ana_pair(session, dana).attention_reason
    assert [d["reason"] for d in _attention_audits(session, dana)] == ["ended", "gone"]


def test_the_employee_sees_that_it_needs_attention_in_words_meant_for_them(app, client, session, dana):
    declined = [dict(e, changeKey=e["changeKey"] + "+", attendees=[
        dict(a, status={"response": "declined"}) for a in e["attendees"]])
        if e["seriesMasterId"] == "S-ana" else e for e in dana.events]
    _resync(app, session, dana, declined)
    assert _ana_pair(session, dana).attention_reason == "Ana Costa declined the meeting series."
    f.sign_in_as(client, dana.reports[0])
    page = client.get("/one-on-ones").get_data(as_text=True)
    mine = re.search(r'id="my-one-on-one".*?</section>', page, re.S).group(0)
    assert "What happened:</strong> You declined the meeting series in Outlook." in mine
    assert "Dana Boss has been asked to choose another meeting or to detach this one." in mine
    assert "Ana Costa declined" not in page  # the manager's own words are not shown to the report
    assert _ana_pair(session, dana).attention_code == "declined_by_report"


def test_nothing_attached_or_no_connection_is_a_no_op(app, session, dana):
    with app.app_context():
        assert recheck_after_sync(session, services_of(app).keys, None).checked == 0
    other = h.team(session)
    with app.app_context():
        assert recheck_after_sync(session, services_of(app).keys, other.connection).checked == 0
