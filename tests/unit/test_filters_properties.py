"""Property tests: any event list, garbage included, is judged without a crash;
every group appears exactly once and every malformed entry once
(docs/filter-rules.md, "Command-line contract"); order and privacy hold whatever the input."""
from __future__ import annotations

import io
import json
import random
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listening.filters import judge, main, parse_input
from listening.filters.times import read_start
from tests.support.calendars import goid

ROSA, ROSA_ALIAS = "rosa@tailspin.test", "rdelgado@tailspin.test"
FEMI, FEMI_ALIAS, HANNAH = "femi@tailspin.test", "femi.a@tailspin.test", "hannah@tailspin.test"
PEOPLE = {"manager": {"email": ROSA, "aliases": [ROSA_ALIAS]},
          "reports": [{"email": FEMI, "aliases": [FEMI_ALIAS]}, {"email": HANNAH}]}
TYPES = ("singleInstance", "occurrence", "exception", "seriesMaster")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
garbage = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


def sometimes_garbage(strategy):
    return st.one_of(strategy, strategy, strategy, garbage)


ids = sometimes_garbage(st.sampled_from(["a", "b", "c", "S", "T", "", "\ud800"]))
addresses = st.sampled_from([ROSA, ROSA_ALIAS.upper(), FEMI, f" {FEMI_ALIAS} ", HANNAH,
                             "marco@tailspin.test", "room@tailspin.test", "", "  ", None, 5])
email = st.fixed_dictionaries({"address": addresses}, optional={"name": st.text(max_size=4)})
response = st.fixed_dictionaries({"response": st.sampled_from(
    ["accepted", "declined", "Declined", "organizer", None])})
attendee = st.fixed_dictionaries({}, optional={
    "type": sometimes_garbage(st.sampled_from(["required", "optional", "resource", None])),
    "status": sometimes_garbage(response), "emailAddress": sometimes_garbage(email)})
local_times = st.one_of(
    st.datetimes(datetime(2027, 1, 1), datetime(2027, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + st_fraction(d)),
    st.sampled_from(["2027-03-28T02:30:00", "2027-10-31T02:30:00", "2027-03-10T09:00:00",
                     "0001-01-01T00:00:00", "9999-12-31T23:59:59", "2027-02-30T10:00:00",
                     "2027-03-10T09:00:00Z", "2027-03-10"]),
    st.text(max_size=20))
zones = st.sampled_from(["UTC", "W. Europe Standard Time", "Pacific Standard Time",
                         "Tokyo Standard Time", "Europe/Berlin", "US/Pacific", "utc", "bogus",
                         None, 3])
start = st.fixed_dictionaries({}, optional={"dateTime": local_times, "timeZone": zones})
uids = st.sampled_from([goid("AB" * 16, date(2027, 3, 1)), goid("AB" * 16, date(2027, 3, 2)), goid("AB" * 16, date(2027, 3, 3)).lower(),
                        goid("CD" * 16, date(2027, 3, 4)), "uid-1", "UID-1", ""])
event = st.fixed_dictionaries({}, optional={
    "id": ids, "type": sometimes_garbage(st.sampled_from(TYPES + ("Occurrence",))),
    "seriesMasterId": ids, "isCancelled": sometimes_garbage(st.booleans()),
    "isAllDay": sometimes_garbage(st.booleans()),
    "sensitivity": sometimes_garbage(st.sampled_from(["normal", "Normal", "private", None])),
    "start": sometimes_garbage(start), "subject": sometimes_garbage(st.text(max_size=5)),
    "iCalUId": sometimes_garbage(uids),
    "organizer": sometimes_garbage(st.fixed_dictionaries({"emailAddress": email})),
    "attendees": sometimes_garbage(st.lists(sometimes_garbage(attendee), max_size=4)),
    "responseStatus": sometimes_garbage(response),
    "@removed": sometimes_garbage(st.just({"reason": "deleted"})),
})


@st.composite
def realistic_event(draw):
    """Mostly well-formed occurrences of a few series, so that every rule gets
    reached; now and then one field is garbage."""
    kind = draw(st.sampled_from(["occurrence"] * 5 + ["exception", "seriesMaster",
                                                      "singleInstance"]))
    series = draw(st.sampled_from(["S", "T", "U"]))
    moment = draw(st.datetimes(datetime(2027, 1, 1), datetime(2027, 6, 30)))
    made = {
        "id": series if kind == "seriesMaster" else draw(st.sampled_from(
            [f"e{i}" for i in range(12)])),
        "type": kind, "seriesMasterId": series,
        "isCancelled": draw(st.sampled_from([False] * 5 + [True])),
        "isAllDay": draw(st.sampled_from([False] * 6 + [True])),
        "sensitivity": draw(st.sampled_from(["normal"] * 4 + ["private", None, "Normal"])),
        "start": {"dateTime": moment.isoformat(timespec="seconds"), "timeZone": draw(zones)},
        "subject": "1:1", "iCalUId": draw(uids),
        "organizer": {"emailAddress": {"address": draw(st.sampled_from([ROSA] * 3 + [FEMI]))}},
        "attendees": draw(st.lists(st.fixed_dictionaries({
            "type": st.sampled_from(["required"] * 3 + ["resource"]),
            "status": response, "emailAddress": email}), min_size=1, max_size=3)),
        "responseStatus": draw(response),
    }
    spoiled = draw(st.sampled_from([None] * 4 + list(made)))
    if spoiled is not None:
        made[spoiled] = draw(garbage)
    return made


events_lists = st.lists(st.one_of(realistic_event(), realistic_event(), realistic_event(),
                                   event, garbage), max_size=20)
nows = st.datetimes(datetime(2026, 12, 1), datetime(2028, 1, 31),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))]))


def st_fraction(moment: datetime) -> str:
    return f".{moment.microsecond:07d}" if moment.microsecond % 3 else ""


def expected_groups(events: list) -> tuple[Counter, Counter]:
    """An independent reading of the spec's grouping: group ids and malformed ids."""
    def valid_id(e):
        return isinstance(e, dict) and isinstance(e.get("id"), str) and e["id"] != ""
    last = {e["id"]: i for i, e in enumerate(events) if valid_id(e)}
    groups, series, broken = Counter(), set(), Counter()
    for i, e in enumerate(events):
        if valid_id(e) and last[e["id"]] != i:
            continue
        if isinstance(e, dict) and isinstance(e.get("@removed"), dict):
            continue
        kind = e.get("type") if valid_id(e) else None
        master_id = e.get("seriesMasterId") if isinstance(e, dict) else None
        live = isinstance(e, dict) and e.get("isCancelled") is not True
        if (not valid_id(e) or not isinstance(kind, str) or kind not in TYPES
                or (kind in ("occurrence", "exception")
                    and not (isinstance(master_id, str) and master_id))
                or (live and read_start(e.get("start")) is None)):
            broken[e["id"] if valid_id(e) else None] += 1
        elif kind == "singleInstance":
            groups[e["id"]] += 1
        else:
            series.add(e["id"] if kind == "seriesMaster" else master_id)
    groups.update(series)
    return groups, broken


def judged(now, events):
    return judge(*parse_input({"now": now.isoformat(), **PEOPLE, "events": events}))


@SETTINGS
@given(nows, events_lists)
def test_every_group_once_every_malformed_entry_once_in_order(now, events):
    result = judged(now, events)
    groups, broken = expected_groups(events)
    seen = Counter(c.series_id for c in result.candidates)
    seen.update(r.series_id for r in result.rejected if r.reason != "malformed")
    assert seen == groups
    assert Counter(r.series_id for r in result.rejected if r.reason == "malformed") == broken
    _assert_order_fields_and_privacy(now, result)


def _assert_order_fields_and_privacy(now, result):
    keys = [(c.next_start, c.series_id) for c in result.candidates]
    assert keys == sorted(keys)
    ids = [(r.series_id is None, r.series_id or "") for r in result.rejected]
    assert ids == sorted(ids)
    for candidate in result.candidates:
        assert candidate.next_start >= now.replace(microsecond=0)
        assert candidate.report in (FEMI, HANNAH)
        assert candidate.occurrences == len(candidate.starts) >= 1
        assert candidate.next_start in candidate.starts
    for rejected in result.rejected:
        if rejected.reason == "private" or rejected.withheld:
            assert rejected.withheld and rejected.subject is None and rejected.people == ()


@SETTINGS
@given(nows, events_lists)
def test_the_command_line_prints_what_judge_returns(now, events):
    stdin = io.BytesIO(json.dumps({"now": now.isoformat(), **PEOPLE, "events": events}).encode())
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(stdin, stdout, stderr) == 0
    assert stderr.getvalue() == ""
    assert json.loads(stdout.getvalue()) == judged(now, events).to_json()


@SETTINGS
@given(nows, events_lists, st.randoms(use_true_random=False))
def test_input_order_does_not_matter_without_repeats_or_deletions(now, events, rng: random.Random):
    unique = []
    seen = set()
    for e in events:
        key = e.get("id") if isinstance(e, dict) else None
        if isinstance(key, str) and key in seen or isinstance(e, dict) and "@removed" in e:
            continue
        seen.add(key if isinstance(key, str) else object())
        unique.append(e)
    shuffled = unique[:]
    rng.shuffle(shuffled)
    one, other = judged(now, unique).to_json(), judged(now, shuffled).to_json()
    assert one["candidates"] == other["candidates"]
    as_key = lambda r: (r["series_id"] is None, r["series_id"] or "", r["reason"])  # noqa: E731
    assert sorted(one["rejected"], key=as_key) == sorted(other["rejected"], key=as_key)
