"""What the filter is given per series (PostgreSQL picks it), and the live starts put back after."""
from __future__ import annotations

from datetime import timedelta

from listening.core import crypto
from listening.one_on_ones.calendar import load_recurring
from tests.integration import one_on_ones_helpers as h
from tests.support import calendars as cal
from tests.support.apps import services_of

NOW = h.NOW
T = h.weekly_from(NOW, 2)


def _event(event_id, series_id, start, cancelled=False, event_type="occurrence"):
    event = cal.series("dana@example.com", ["ana@example.com"], event_id, start, 1)[0]
    event.update(id=event_id, type=event_type, isCancelled=cancelled, seriesMasterId=series_id)
    if event_type == "seriesMaster":
        event.pop("seriesMasterId")
    return event


class Counting(crypto.KeyRing):
    calls = 0

    def decrypt(self, blob, aad):
        Counting.calls += 1
        return super().decrypt(blob, aad)


def _load(app, session, connection, **kwargs):
    with app.app_context():
        ring = services_of(app).keys
        Counting.calls = 0
        return load_recurring(session, Counting(ring.keys, ring.current), connection, NOW, **kwargs)


def test_per_series_the_latest_live_occurrence_else_the_latest_of_any_kind_and_the_next_one(app, session):
    t = h.team(session)
    week = timedelta(days=7)
    events = [
        _event("a1", "A", T), _event("a2", "A", T + week),                      # past, live
        _event("a3", "A", NOW + week), _event("a4", "A", NOW + 2 * week),        # the next one, the latest
        _event("a5", "A", NOW + 3 * week, cancelled=True),
        _event("b1", "B", T, cancelled=True), _event("b0", "B", T - week, cancelled=True),
        # Equal starts: the greater id in code-point order ("b" > "B"), which en_US would not give.
        _event("Cb", "C", NOW + week), _event("Ca", "C", NOW + week), _event("CB", "C", NOW + week),
        _event("M", None, NOW + week, event_type="seriesMaster"),              # a master alone
        _event("N", None, NOW + week, event_type="seriesMaster"), _event("n1", "N", T, cancelled=True),
    ]
    events[3]["type"] = "exception"
    cal.store(services_of(app), session, t.connection, events)
    stored = _load(app, session, t.connection)
    given = {e["id"]: e for e in stored.events}
    assert {i for i, e in given.items() if "subject" in e} == {"a4", "b1", "Cb", "M", "n1"}
    assert Counting.calls == 5
    # + the next live occurrence of A and of C (the first in code-point order: "CB" < "Ca" < "Cb")
    assert set(given) == {"a4", "a3", "b1", "Cb", "CB", "M", "n1"}
    assert given["a3"] == {"id": "a3", "type": "occurrence", "seriesMasterId": "A", "isCancelled": False,
                           "start": {"dateTime": (NOW + week).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}
    starts = {k: [s.replace(tzinfo=None) for s in v] for k, v in stored.live_starts.items()}
    naive = lambda *xs: [x.replace(tzinfo=None) for x in xs]  # noqa: E731
    assert starts == {"A": naive(T, T + week, NOW + week, NOW + 2 * week), "B": [],
                      "C": naive(NOW + week, NOW + week, NOW + week), "M": naive(NOW + week), "N": []}


def test_only_the_asked_series_and_never_single_events_are_read(app, session):
    t = h.team(session)
    m, ana, bo = t.manager.email, t.reports[0].email, t.reports[1].email
    cal.store(services_of(app), session, t.connection,
            cal.series(m, [ana], "A", T, 6, series_id="SA") + cal.series(m, [bo], "B", T, 6, series_id="SB")
            + [cal.single(m, ana, "one-off", T)])
    assert set(_load(app, session, t.connection).live_starts) == {"SA", "SB"}
    only = _load(app, session, t.connection, series_ids=["SB"])
    assert set(only.live_starts) == {"SB"} and len(only.live_starts["SB"]) == 6
    assert {e["seriesMasterId"] for e in only.events} == {"SB"} and Counting.calls == 1
