"""The 1-on-1 filter, rule by rule (docs/filter-rules.md), plus every example in
tests/data/filter-examples/."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone

import pytest

from listening.filters import (
    PROBLEMS,
    REASONS,
    FilterInputError,
    Person,
    judge,
    parse_input,
)
from listening.filters.times import TZ_NAMES, WINDOWS_ZONES, read_start, zone_named
from tests.support.calendars import CREATED, goid
from tests.support.data import FILTER_EXAMPLES

ROSA, ROSA_ALIAS = "rosa@tailspin.test", "rdelgado@tailspin.test"
FEMI, FEMI_ALIAS = "femi@tailspin.test", "femi.a@tailspin.test"
HANNAH, MARCO = "hannah@tailspin.test", "marco@tailspin.test"
MANAGER = {"email": ROSA, "aliases": [ROSA_ALIAS]}
REPORTS = [{"email": FEMI, "aliases": [FEMI_ALIAS]}, {"email": HANNAH, "aliases": []}]
NOW = "2027-03-10T09:00:00Z"
DROP = object()  # a field value meaning "leave the field out"


def goid_on(day: int = 0, tail: str = "7EF63AD633599DB4DAD1949CED107E60", created: str = CREATED) -> str:
    """The Global Object ID of an occurrence on March ``day`` 2027 (0: of a series or single meeting)."""
    return goid(tail, date(2027, 3, day) if day else None, created)


def attendee(address, response="accepted", kind="required", name=None) -> dict:
    return {"type": kind, "status": {"response": response, "time": "2026-10-02T08:14:51Z"},
            "emailAddress": {"name": name or address.split("@")[0].title(), "address": address}}


def ev(eid: str, day: int = 15, series: str = "S", **fields) -> dict:
    """One live occurrence of ``series`` on March ``day`` 2027, 10:00 UTC, Rosa
    organizing with Femi; ``fields`` override (DROP removes a field)."""
    event = {
        "id": eid, "type": "occurrence", "seriesMasterId": series,
        "start": {"dateTime": f"2027-03-{day:02d}T10:00:00.0000000", "timeZone": "UTC"},
        "isCancelled": False, "isAllDay": False, "sensitivity": "normal",
        "subject": f"{series} 1:1",
        "iCalUId": goid_on(day, tail=series.encode().hex().upper().ljust(32, "0")),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "organizer": {"emailAddress": {"name": "Rosa Delgado", "address": ROSA}},
        "attendees": [attendee(FEMI)],
    }
    for key, value in fields.items():
        if value is DROP:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def weekly(series: str = "S", days=(1, 8, 15), **fields) -> list[dict]:
    return [ev(f"{series}-{day}", day, series, **fields) for day in days]


def run(events, now=NOW, manager=MANAGER, reports=REPORTS):
    return judge(*parse_input({"now": now, "manager": manager, "reports": reports,
                               "events": events}))


def outcomes(events, **kwargs) -> dict:
    """series_id -> "candidate" or the reason (malformed entries left out)."""
    result = run(events, **kwargs)
    found = {c.series_id: "candidate" for c in result.candidates}
    for rejected in result.rejected:
        if rejected.reason != "malformed":
            assert rejected.series_id not in found
            found[rejected.series_id] = rejected.reason
    return found


def verdict(events, series="S", **kwargs) -> str:
    return outcomes(events, **kwargs)[series]


def at(day, time="10:00:00", tz="UTC", month=3) -> dict:
    return {"dateTime": f"2027-{month:02d}-{day:02d}T{time}", "timeZone": tz}


# --- the examples ----------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(FILTER_EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_public_example(path):
    example = json.loads(path.read_text("utf-8"))
    got = judge(*parse_input(copy.deepcopy(example["input"]))).to_json()
    assert got["candidates"] == example["expected"]["candidates"]
    assert got["rejected"] == example["expected"]["rejected"]


# --- rule 1: not_recurring ----------------------------------------------------------

@pytest.mark.parametrize("event, expected", [
    (ev("one", type="singleInstance", seriesMasterId=None), "not_recurring"),
    (ev("one", type="singleInstance", seriesMasterId="S"), "not_recurring"),
    (ev("one", type="singleInstance", isCancelled=True, start=None), "not_recurring"),
    (ev("one", type="singleInstance", day=1), "not_recurring"),
], ids=["one-off", "with-a-seriesMasterId", "cancelled-without-start", "past"])
def test_not_recurring(event, expected):
    assert outcomes([event]) == {"one": expected}


def test_single_instance_sharing_an_id_with_a_series_is_its_own_group():
    single = ev("S", type="singleInstance", seriesMasterId=None)
    result = run([single, *weekly()])
    assert [r.reason for r in result.rejected] == ["not_recurring"]
    assert [c.series_id for c in result.candidates] == ["S"]


# --- rule 2: cancelled ------------------------------------------------------------------

@pytest.mark.parametrize("events, expected", [
    (weekly(isCancelled=True), "cancelled"),
    (weekly(isCancelled=True, start=None), "cancelled"),
    ([ev("S", type="seriesMaster", seriesMasterId=None, isCancelled=True)], "cancelled"),
    ([ev("S", type="seriesMaster", seriesMasterId=None), *weekly(isCancelled=True)], "cancelled"),
    (weekly(isCancelled="true"), "candidate"),
    (weekly(isCancelled=1), "candidate"),
    (weekly(isCancelled=None), "candidate"),
], ids=["all-cancelled", "cancelled-need-no-start", "master-only-cancelled",
        "live-master-but-cancelled-occurrences", "string-true-is-not-true", "number-is-not-true",
        "null-is-live"])
def test_cancelled(events, expected):
    assert verdict(events) == expected


# --- rule 3: ended ----------------------------------------------------------------------

@pytest.mark.parametrize("events, now, expected", [
    (weekly(days=(1, 3, 8)), NOW, "ended"),
    (weekly(days=(1, 8)) + [ev("S-15", 15, isCancelled=True)], NOW, "ended"),
    ([ev("S-10", 10, start=at(10, "09:00:00"))], NOW, "candidate"),
    ([ev("S-10", 10, start=at(10, "09:00:00"))], "2027-03-10T09:00:00.999Z", "candidate"),
    ([ev("S-10", 10, start=at(10, "08:59:59.9999999"))], NOW, "ended"),
    ([ev("S-10", 10, start=at(10, "09:00:00"))], "2027-03-10T10:00:00+01:00", "candidate"),
    ([ev("S-10", 10, start=at(10, "09:00:00"))], "2027-03-10T04:00:01-05:00", "ended"),
    ([ev("S-10", 10, start=at(10, "10:00:00", "W. Europe Standard Time"))], NOW, "candidate"),
    ([ev("S-10", 10, start=at(10, "09:59:59", "W. Europe Standard Time"))], NOW, "ended"),
], ids=["all-past", "future-one-cancelled", "starts-at-now", "fraction-of-now-ignored",
        "fraction-of-start-ignored", "now-with-offset", "now-one-second-later", "zone-at-now",
        "zone-before-now"])
def test_ended(events, now, expected):
    assert verdict(events, now=now) == expected


# --- rule 4: all_day --------------------------------------------------------------------

@pytest.mark.parametrize("events, expected", [
    (weekly(isAllDay=True), "all_day"),
    (weekly(days=(1, 8)) + [ev("S-15", 15, isAllDay=True)], "all_day"),
    (weekly(days=(1, 8), isAllDay=True) + [ev("S-15", 15)], "candidate"),
    (weekly(isAllDay="true"), "candidate"),
    (weekly(isAllDay=None), "candidate"),
    (weekly(isAllDay=True, sensitivity="private"), "all_day"),
], ids=["all-day", "latest-all-day", "only-earlier-all-day", "string-true", "null",
        "all-day-checked-before-private"])
def test_all_day(events, expected):
    assert verdict(events) == expected


# --- rule 5: private --------------------------------------------------------------------

@pytest.mark.parametrize("sensitivity, expected", [
    ("private", "private"), ("Private", "private"), ("confidential", "private"),
    ("personal", "private"), ("", "private"), ("normal ", "private"),
    ("normal", "candidate"), ("Normal", "candidate"), ("NORMAL", "candidate"),
    (None, "candidate"), (DROP, "candidate"),
    (0, "private"), (True, "private"), ({}, "private"), (["normal"], "private"),
])
def test_private_sensitivity(sensitivity, expected):
    assert verdict(weekly(sensitivity=sensitivity)) == expected


@pytest.mark.parametrize("events, expected", [
    (weekly(days=(1, 8), sensitivity="private") + [ev("S-15", 15)], "candidate"),
    (weekly(days=(1, 8)) + [ev("S-15", 15, sensitivity="private")], "private"),
    (weekly(sensitivity="private", attendees=[attendee(FEMI), attendee(HANNAH)]), "private"),
], ids=["only-earlier-private", "latest-private", "private-checked-before-people"])
def test_private_reads_the_latest_live_occurrence(events, expected):
    assert verdict(events) == expected


# --- rule 6: not_two_people -------------------------------------------------------------

def organizer(address):
    return {"emailAddress": {"name": "Someone", "address": address}}


@pytest.mark.parametrize("fields, expected", [
    ({"attendees": [attendee(FEMI), attendee(HANNAH, kind="optional")]}, "not_two_people"),
    ({"attendees": [attendee(FEMI), attendee("room@tailspin.test", kind="resource")]}, "candidate"),
    ({"attendees": [attendee(FEMI), attendee("room@tailspin.test", kind="Resource")]},
     "not_two_people"),
    ({"attendees": [attendee(FEMI), attendee(HANNAH, kind=None)]}, "not_two_people"),
    ({"attendees": [attendee(FEMI), {**attendee(HANNAH), "type": 7}]}, "not_two_people"),
    ({"attendees": [attendee(FEMI), {k: v for k, v in attendee(HANNAH).items() if k != "type"}]},
     "not_two_people"),
    ({"attendees": []}, "not_two_people"),
    ({"attendees": DROP}, "not_two_people"),
    ({"attendees": "femi@tailspin.test"}, "not_two_people"),
    ({"attendees": [attendee(FEMI), attendee(ROSA)]}, "candidate"),
    ({"attendees": [attendee(FEMI), attendee(FEMI_ALIAS), attendee(ROSA_ALIAS)]}, "candidate"),
    ({"attendees": [attendee("  FEMI@Tailspin.TEST ")]}, "candidate"),
    ({"attendees": [attendee(FEMI), attendee("   ")]}, "candidate"),
    ({"attendees": [attendee(FEMI), attendee("")]}, "candidate"),
    ({"attendees": [attendee(FEMI), {"type": "required", "emailAddress": {"address": 5}}]},
     "candidate"),
    ({"attendees": [attendee(FEMI), {"type": "required"}, "x", None]}, "candidate"),
    ({"organizer": DROP, "attendees": [attendee(FEMI), attendee(ROSA)]}, "candidate"),
    ({"organizer": organizer(""), "attendees": [attendee(FEMI)]}, "not_two_people"),
    ({"organizer": organizer(None), "attendees": [attendee(FEMI), attendee(ROSA)]}, "candidate"),
], ids=["three-people-optional-counts", "resource-is-no-one", "resource-compared-exactly",
        "null-type-is-a-person", "wrong-typed-type-is-a-person", "missing-type-is-a-person",
        "no-attendees", "attendees-missing", "attendees-wrong-type", "manager-twice-is-one",
        "aliases-map-to-owners", "addresses-trimmed-lower-cased", "blank-address-no-one",
        "empty-address-no-one", "numeric-address-no-one", "entries-without-address",
        "no-organizer-two-attendees", "organizer-empty-address", "organizer-null-address"])
def test_not_two_people(fields, expected):
    assert verdict(weekly(**fields)) == expected


def test_people_are_read_on_the_latest_live_occurrence_only():
    three = [attendee(FEMI), attendee(HANNAH)]
    assert verdict(weekly(days=(1, 8), attendees=three) + [ev("S-15", 15)]) == "candidate"
    assert verdict(weekly(days=(1, 8)) + [ev("S-15", 15, attendees=three)]) == "not_two_people"


# --- rule 7: manager_not_participant ----------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"organizer": organizer(FEMI), "attendees": [attendee(HANNAH)]}, "manager_not_participant"),
    ({"organizer": organizer(MARCO), "attendees": [attendee(FEMI)]}, "manager_not_participant"),
    ({"organizer": organizer(FEMI), "attendees": [attendee(ROSA_ALIAS.upper())]}, "candidate"),
    ({"organizer": organizer(FEMI), "attendees": [attendee(ROSA, kind="resource")]},
     "not_two_people"),
], ids=["two-reports", "peer-and-report", "manager-by-alias", "manager-as-resource-is-no-one"])
def test_manager_not_participant(fields, expected):
    assert verdict(weekly(**fields)) == expected


# --- rule 8: not_direct_report ----------------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"attendees": [attendee(MARCO)]}, "not_direct_report"),
    ({"organizer": organizer(MARCO), "attendees": [attendee(ROSA)]}, "not_direct_report"),
    ({"attendees": [attendee(FEMI_ALIAS)]}, "candidate"),
    ({"organizer": organizer(HANNAH.upper()), "attendees": [attendee(ROSA)]}, "candidate"),
], ids=["peer", "peer-organizes", "report-by-alias", "report-organizes"])
def test_not_direct_report(fields, expected):
    assert verdict(weekly(**fields)) == expected


# --- rule 9: declined -------------------------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"attendees": [attendee(FEMI, "declined")]}, "declined"),
    ({"attendees": [attendee(FEMI_ALIAS, "declined")]}, "declined"),
    ({"attendees": [attendee(FEMI), attendee(FEMI_ALIAS, "declined")]}, "declined"),
    ({"attendees": [attendee(FEMI), attendee(ROSA_ALIAS, "declined")]}, "declined"),
    ({"responseStatus": {"response": "declined"}}, "declined"),
    ({"responseStatus": {"response": "Declined"}}, "candidate"),
    ({"responseStatus": "declined"}, "candidate"),
    ({"attendees": [attendee(FEMI, "Declined")]}, "candidate"),
    ({"attendees": [attendee(FEMI, "tentativelyAccepted")]}, "candidate"),
    ({"attendees": [attendee(FEMI, "notResponded")]}, "candidate"),
    ({"attendees": [{**attendee(FEMI), "status": "declined"}]}, "candidate"),
    ({"attendees": [attendee(FEMI, "declined"), attendee("room@x.test", "declined", "resource")]},
     "declined"),
    ({"attendees": [attendee(FEMI), attendee("room@x.test", "declined", "resource")]},
     "candidate"),
], ids=["report-declined", "report-declined-by-alias", "any-entry-of-the-report",
        "manager-attendee-entry", "manager-responseStatus", "response-compared-exactly",
        "responseStatus-wrong-type", "status-compared-exactly", "tentative", "not-responded",
        "status-wrong-type", "report-and-resource", "only-a-resource-declined"])
def test_declined(fields, expected):
    assert verdict(weekly(**fields)) == expected


def test_declined_reads_the_latest_live_occurrence_only():
    declined = {"attendees": [attendee(FEMI, "declined")]}
    assert verdict(weekly(days=(1, 8), **declined) + [ev("S-15", 15)]) == "candidate"
    cancelled_decline = ev("S-22", 22, isCancelled=True, **declined)
    assert verdict(weekly() + [cancelled_decline]) == "candidate"


def test_declined_is_checked_after_the_people():
    assert verdict(weekly(attendees=[attendee(MARCO, "declined")])) == "not_direct_report"


# --- rule 10: copied and the series key ------------------------------------------------

def with_uid(series, uid, **fields):
    return weekly(series, iCalUId=uid, **fields)


@pytest.mark.parametrize("uid_a, uid_b, expected", [
    (goid_on(1), goid_on(2), "copied"),
    (goid_on(1), goid_on(1).lower(), "copied"),
    (goid_on(1), goid_on(1)[:32].lower() + goid_on(1)[32:], "copied"),
    (goid_on(0), goid_on(9), "copied"),
    (goid_on(1), goid_on(1, created="00DC0612A8A1DD02"), "candidate"),
    (goid_on(1), goid_on(1, tail="7EF63AD633599DB4DAD1949CED107E61"), "candidate"),
    (goid_on(1)[:31] + "9" + goid_on(1)[32:], goid_on(2)[:31] + "9" + goid_on(2)[32:], "candidate"),
    ("uid-7", "uid-7", "copied"),
    ("uid-7", "UID-7", "candidate"),
    (goid_on(1) + "0", goid_on(2) + "0", "candidate"),
    (goid_on(1)[:79], goid_on(2)[:79], "candidate"),
    (goid_on(1)[:78] + "G0", goid_on(2)[:78] + "G0", "candidate"),
    (goid_on(1)[:80], goid_on(2)[:80], "copied"),
    (goid_on(1)[:78], goid_on(2)[:78], "candidate"),
    ("", "", "candidate"),
    (DROP, DROP, "candidate"),
    (7, 7, "candidate"),
], ids=["instance-date-differs", "case-insensitive", "class-id-case-insensitive",
        "series-and-instance", "creation-time-differs", "data-differs", "not-the-class-id",
        "text-equal", "text-compared-exactly", "odd-length-is-text", "79-chars-is-text",
        "non-hex-is-text", "80-chars-is-a-goid", "78-chars-is-text", "empty-is-no-key",
        "missing-is-no-key", "wrong-type-is-no-key"])
def test_copied(uid_a, uid_b, expected):
    events = with_uid("A", uid_a) + with_uid("B", uid_b, attendees=[attendee(HANNAH)])
    assert outcomes(events) == {"A": expected, "B": expected}


@pytest.mark.parametrize("other_fields, expected", [
    ({"days": (1, 8)}, "candidate"),
    ({"isCancelled": True}, "candidate"),
    ({"sensitivity": "private"}, "copied"),
    ({"attendees": [attendee(FEMI), attendee(HANNAH)]}, "copied"),
    ({"isAllDay": True}, "copied"),
], ids=["copy-ended", "copy-cancelled", "copy-private-still-counts",
        "copy-with-three-people-counts", "copy-all-day-counts"])
def test_copied_counts_copies_that_have_not_ended(other_fields, expected):
    events = with_uid("A", goid_on(1)) + with_uid("B", goid_on(3), **other_fields)
    assert verdict(events, "A") == expected
    assert verdict(events, "B") != "copied"  # it keeps the first rule it fails


def test_copied_needs_the_key_of_the_latest_live_occurrence():
    older = [ev("A-1", 1, "A", iCalUId=goid_on(1, tail="AA" * 16))]
    later = [ev("A-8", 8, "A", iCalUId=goid_on(8, tail="BB" * 16)),
             ev("A-15", 15, "A", iCalUId=goid_on(15, tail="BB" * 16))]
    other = with_uid("B", goid_on(2, tail="AA" * 16), attendees=[attendee(HANNAH)])
    assert outcomes(older + later + other) == {"A": "candidate", "B": "candidate"}


def test_single_instances_and_malformed_entries_never_make_copies():
    single = ev("one", type="singleInstance", seriesMasterId=None, iCalUId=goid_on(3))
    broken = ev("bad", type="Occurrence", iCalUId=goid_on(4))
    assert outcomes(with_uid("A", goid_on(1)) + [single, broken]) == {
        "A": "candidate", "one": "not_recurring"}


def test_a_one_off_sharing_a_copied_series_id_keeps_its_own_record():
    events = (with_uid("A", goid_on(1)) + with_uid("B", goid_on(2), attendees=[attendee(HANNAH)])
              + [ev("A", type="singleInstance", seriesMasterId=None)])
    got = [(r.series_id, r.reason, r.copies) for r in run(events).rejected]
    assert got == [("A", "copied", ("B",)), ("A", "not_recurring", ()), ("B", "copied", ("A",))]


def test_three_copies_each_name_the_others():
    events = (with_uid("A", goid_on(1)) + with_uid("B", goid_on(2), attendees=[attendee(HANNAH)])
              + with_uid("C", goid_on(3), attendees=[attendee(FEMI), attendee(HANNAH)]))
    result = run(events)
    copies = {r.series_id: r.copies for r in result.rejected}
    assert copies == {"A": ("B", "C"), "B": ("A", "C"), "C": ()}
    assert {r.series_id: r.reason for r in result.rejected}["C"] == "not_two_people"


# --- reading events: repeats, deletions, malformed entries -----------------------------

def malformed(events, **kwargs) -> list:
    return [(r.series_id, r.problem) for r in run(events, **kwargs).rejected
            if r.reason == "malformed"]


def test_repeated_ids_last_one_wins():
    assert verdict(weekly() + [ev("S-15", 15, isCancelled=True)]) == "ended"
    assert verdict(weekly(isCancelled=True) + [ev("S-15", 15)]) == "candidate"
    broken_then_fixed = [ev("S-15", 15, type="nonsense"), *weekly()]
    assert malformed(broken_then_fixed) == []
    fixed_then_broken = [*weekly(), ev("S-15", 15, type="nonsense")]
    assert malformed(fixed_then_broken) == [("S-15", "bad_type")]
    assert verdict(fixed_then_broken) == "ended"


def test_repeated_ids_count_once():
    result = run(weekly() + weekly())
    assert result.candidates[0].occurrences == 3


def test_removed_entries_delete_and_are_reported_nowhere():
    gone = {"id": "S-15", "@removed": {"reason": "deleted"}}
    assert verdict(weekly() + [gone]) == "ended"
    assert verdict(weekly() + [gone, ev("S-15", 15)]) == "candidate"  # re-added after
    nothing = [{"id": "never-seen", "@removed": {"reason": "deleted"}},
               {"@removed": {"reason": "deleted"}}, {"id": 5, "@removed": {}}]
    result = run(weekly() + nothing)
    assert [r.series_id for r in result.rejected] == []
    one_off = ev("one", type="singleInstance", seriesMasterId=None)
    assert outcomes([one_off, {"id": "one", "@removed": {"reason": "changed"}}]) == {}


@pytest.mark.parametrize("removed", [None, "deleted", True, ["deleted"]])
def test_a_wrong_typed_removed_member_counts_as_missing(removed):
    entry = {"id": "S-15", "@removed": removed}
    assert malformed(weekly() + [entry]) == [("S-15", "bad_type")]


@pytest.mark.parametrize("entry, expected", [
    ("not an event", (None, "not_an_object")),
    (None, (None, "not_an_object")),
    (42, (None, "not_an_object")),
    ([ev("x")], (None, "not_an_object")),
    (ev(DROP, id=DROP), (None, "no_id")),
    (ev("", id=""), (None, "no_id")),
    (ev("x", id=12), (None, "no_id")),
    (ev("x", type=DROP), ("x", "bad_type")),
    (ev("x", type=None), ("x", "bad_type")),
    (ev("x", type="Occurrence"), ("x", "bad_type")),
    (ev("x", type=["occurrence"]), ("x", "bad_type")),
    (ev("x", seriesMasterId=DROP), ("x", "no_series_master_id")),
    (ev("x", seriesMasterId=""), ("x", "no_series_master_id")),
    (ev("x", seriesMasterId=17), ("x", "no_series_master_id")),
    (ev("x", type="exception", seriesMasterId=None), ("x", "no_series_master_id")),
    (ev("x", start=DROP), ("x", "no_readable_start")),
    (ev("x", start=None), ("x", "no_readable_start")),
    (ev("x", start="2027-03-15T10:00:00"), ("x", "no_readable_start")),
    (ev("x", start={"timeZone": "UTC"}), ("x", "no_readable_start")),
    (ev("x", start=at(15, "10:00:00Z")), ("x", "no_readable_start")),
    (ev("x", start=at(15, "10:00:00+01:00")), ("x", "no_readable_start")),
    (ev("x", start=at(15, "10:00")), ("x", "no_readable_start")),
    (ev("x", start=at(15, "10:00:00.")), ("x", "no_readable_start")),
    (ev("x", start=at(30, month=2)), ("x", "no_readable_start")),
    (ev("x", start=at(15, "24:00:00")), ("x", "no_readable_start")),
    (ev("x", start=at(15, "10:00:60")), ("x", "no_readable_start")),
    (ev("x", start={"dateTime": "2027-03-15 10:00:00", "timeZone": "UTC"}),
     ("x", "no_readable_start")),
    (ev("x", start={"dateTime": "2027-03-15T10:00:00\n", "timeZone": "UTC"}),
     ("x", "no_readable_start")),
    (ev("x", start={"dateTime": "２０２７-03-15T10:00:00", "timeZone": "UTC"}),
     ("x", "no_readable_start")),
    (ev("x", start={"dateTime": 1806000000, "timeZone": "UTC"}), ("x", "no_readable_start")),
    (ev("x", type="seriesMaster", seriesMasterId=None, start=None), ("x", "no_readable_start")),
    (ev("x", type="singleInstance", start=None), ("x", "no_readable_start")),
], ids=lambda v: None)
def test_malformed_entries(entry, expected):
    assert malformed([entry]) == [expected]


def test_malformed_cancelled_events_need_no_start():
    assert malformed([ev("x", start=None, isCancelled=True)]) == []


def test_each_malformed_entry_is_reported_once_in_input_order():
    entries = ["a", ev("m1", type="bogus"), 3, ev("m2", start=None), None]
    result = run(entries)
    assert [(r.series_id, r.reason) for r in result.rejected] == [
        ("m1", "malformed"), ("m2", "malformed"),
        (None, "malformed"), (None, "malformed"), (None, "malformed")]
    assert [r.position for r in result.rejected] == [1, 3, 0, 2, 4]


def test_a_master_without_start_is_malformed_beside_its_series():
    master = ev("S", type="seriesMaster", seriesMasterId=None, start=None)
    result = run([master, *weekly()])
    assert [(c.series_id, c.occurrences) for c in result.candidates] == [("S", 3)]
    assert [(r.series_id, r.reason, r.problem) for r in result.rejected] == [
        ("S", "malformed", "no_readable_start")]


def test_a_series_with_only_its_master_live_has_it_as_its_one_occurrence():
    master = ev("S", 22, type="seriesMaster", seriesMasterId=None)
    result = run([master])
    assert [(c.series_id, c.occurrences, c.next_start.day) for c in result.candidates] == [
        ("S", 1, 22)]
    assert verdict([ev("S", 1, type="seriesMaster", seriesMasterId=None)]) == "ended"


def test_malformed_occurrences_do_not_hide_a_live_master():
    master = ev("S", 22, type="seriesMaster", seriesMasterId=None)
    broken = ev("S-15", 15, start=None)
    result = run([master, broken])
    assert [(c.series_id, c.occurrences) for c in result.candidates] == [("S", 1)]


def test_a_master_does_not_count_beside_occurrences():
    master = ev("S", 29, type="seriesMaster", seriesMasterId=None)
    result = run([master, *weekly()])
    assert [(c.occurrences, c.next_start.day) for c in result.candidates] == [(3, 15)]


def test_latest_live_occurrence_ties_broken_by_greater_id():
    same_time = [ev("S-b", 15, sensitivity="private"), ev("S-a", 15)]
    assert verdict(same_time) == "private"
    same_time = [ev("S-b", 15), ev("S-a", 15, sensitivity="private")]
    assert verdict(same_time) == "candidate"
    same_time = [ev("S-B", 15, subject="upper"), ev("S-a", 15, subject="lower")]
    assert run(same_time).candidates[0].subject == "lower"  # "a" > "B" in code points


# --- time zones --------------------------------------------------------------------------

@pytest.mark.parametrize("start, utc", [
    (at(15, "10:00:00", "W. Europe Standard Time"), "2027-03-15T09:00:00Z"),
    (at(29, "10:00:00", "W. Europe Standard Time"), "2027-03-29T08:00:00Z"),
    (at(15, "10:00:00", "Pacific Standard Time"), "2027-03-15T17:00:00Z"),
    (at(15, "10:00:00", "Europe/Berlin"), "2027-03-15T09:00:00Z"),
    (at(15, "10:00:00", "US/Pacific"), "2027-03-15T17:00:00Z"),
    (at(15, "10:00:00", "Asia/Calcutta"), "2027-03-15T04:30:00Z"),
    (at(15, "10:00:00", "India Standard Time"), "2027-03-15T04:30:00Z"),
    (at(15, "10:00:00", "Etc/GMT+5"), "2027-03-15T15:00:00Z"),
    (at(15, "10:00:00", "UTC"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", "europe/berlin"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", "w. europe standard time"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", " Europe/Berlin"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", "Mars/Olympus_Mons"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", "../../etc/passwd"), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", None), "2027-03-15T10:00:00Z"),
    (at(15, "10:00:00", 60), "2027-03-15T10:00:00Z"),
    ({"dateTime": "2027-03-15T10:00:00"}, "2027-03-15T10:00:00Z"),
    # Daylight-saving gap: the offset in force before the change.
    (at(28, "02:30:00", "Europe/Berlin"), "2027-03-28T01:30:00Z"),
    (at(28, "02:30:00", "W. Europe Standard Time"), "2027-03-28T01:30:00Z"),
    (at(14, "02:30:00", "Eastern Standard Time"), "2027-03-14T07:30:00Z"),
    # Overlap: also the offset before the change (summer time, the first 02:30).
    (at(31, "02:30:00", "Europe/Berlin", month=10), "2027-10-31T00:30:00Z"),
    ({"dateTime": "2027-11-07T01:30:00", "timeZone": "America/New_York"},
     "2027-11-07T05:30:00Z"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_start_zones(start, utc):
    now = "2027-01-01T00:00:00Z"
    candidate = run([ev("S-1", start=start)], now=now).candidates[0]
    assert candidate.to_json()["next_start"] == utc


def test_every_windows_zone_maps_to_a_packaged_tz_name():
    assert len(WINDOWS_ZONES) > 130
    for windows_name, iana in WINDOWS_ZONES.items():
        assert iana in TZ_NAMES, windows_name
        assert zone_named(windows_name) is not None or iana in ("Etc/UTC", "UTC"), windows_name


def test_starts_outside_the_printable_years_are_unreadable():
    tokyo, pacific = "Tokyo Standard Time", "Pacific Standard Time"
    assert read_start({"dateTime": "0001-01-01T00:00:00", "timeZone": tokyo}) is None
    assert read_start({"dateTime": "9999-12-31T23:00:00", "timeZone": pacific}) is None
    assert read_start({"dateTime": "0000-01-01T00:00:00", "timeZone": "UTC"}) is None
    assert read_start({"dateTime": "9999-12-31T23:59:59", "timeZone": "UTC"}) is not None


# --- output: fields and order ------------------------------------------------------------

def test_candidate_fields():
    events = weekly(days=(1, 8, 15, 22)) + [ev("S-29", 29, isCancelled=True)]
    (candidate,) = run(events).candidates
    assert candidate.to_json() == {"series_id": "S", "report": FEMI, "subject": "S 1:1",
                                   "next_start": "2027-03-15T10:00:00Z", "occurrences": 4}
    assert [s.day for s in candidate.starts] == [1, 8, 15, 22]
    assert candidate.organizer == ROSA
    assert candidate.next_start == datetime(2027, 3, 15, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("subject, expected", [
    ("Weekly", "Weekly"), (DROP, None), (None, None), (12, None), ("", "")])
def test_candidate_subject_of_the_latest_live_occurrence(subject, expected):
    events = weekly(days=(1, 8)) + [ev("S-15", 15, subject=subject)]
    assert run(events).candidates[0].subject == expected


def test_report_is_the_primary_email_even_when_met_by_alias():
    events = weekly(attendees=[attendee("  Femi.A@Tailspin.test")])
    assert run(events).candidates[0].report == FEMI
    reports = [{"email": "  Femi@Tailspin.TEST ", "aliases": None}]
    assert run(weekly(), reports=reports).candidates[0].report == FEMI


def test_candidates_sorted_by_next_start_then_series_id():
    events = (weekly("C", days=(16,)) + weekly("B", days=(15,), attendees=[attendee(HANNAH)])
              + weekly("A", days=(16,), attendees=[attendee(HANNAH)], iCalUId="a"))
    assert [c.series_id for c in run(events).candidates] == ["B", "A", "C"]


def test_rejected_sorted_by_code_point_none_last_ties_in_input_order():
    events = [None, ev("b", type="singleInstance"), ev("é", type="singleInstance"),
              ev("Z", type="singleInstance"), ev("a", type="singleInstance"),
              *weekly("b", days=(1,)), ev("x", type="?"), 7]
    got = [(r.series_id, r.reason) for r in run(events).rejected]
    assert got == [("Z", "not_recurring"), ("a", "not_recurring"), ("b", "not_recurring"),
                   ("b", "ended"), ("x", "malformed"), ("é", "not_recurring"),
                   (None, "malformed"), (None, "malformed")]


def test_every_reason_code_is_known():
    assert set(REASONS) == {"not_recurring", "cancelled", "ended", "all_day", "private",
                            "not_two_people", "manager_not_participant", "not_direct_report",
                            "declined", "copied", "malformed"}
    assert "no_readable_start" in PROBLEMS


# --- what the app shows under "why isn't my meeting listed?" ----------------------------

def rejection(events, series="S", **kwargs):
    return next(r for r in run(events, **kwargs).rejected if r.series_id == series)


def test_not_two_people_names_the_people():
    nameless = {**attendee(MARCO), "emailAddress": {"name": " ", "address": MARCO}}
    three = [attendee(FEMI, name="Femi A"), nameless, attendee(FEMI_ALIAS)]
    got = rejection(weekly(attendees=three))
    assert got.reason == "not_two_people" and not got.withheld
    assert [(p.email, p.name, p.role) for p in got.people] == [
        (ROSA, "Rosa Delgado", "manager"), (FEMI, "Femi A", "report"), (MARCO, None, "other")]
    assert got.subject == "S 1:1"


def test_private_meetings_give_only_their_code():
    got = rejection(weekly(sensitivity="private", subject="Secret"))
    assert (got.reason, got.withheld, got.subject, got.people) == ("private", True, None, ())


@pytest.mark.parametrize("fields, reason", [
    ({"days": (1, 8)}, "ended"), ({"isCancelled": True}, "cancelled"),
    ({"isAllDay": True}, "all_day")])
def test_private_meetings_stay_private_whatever_their_reason(fields, reason):
    got = rejection(weekly(sensitivity="Confidential", subject="Secret", **fields))
    assert (got.reason, got.withheld, got.subject, got.people) == (reason, True, None, ())


def test_private_one_offs_stay_private():
    got = rejection([ev("one", type="singleInstance", sensitivity="private", subject="x")], "one")
    assert (got.kind, got.withheld, got.subject) == ("single", True, None)


def test_ended_gives_the_span_of_live_occurrences():
    got = rejection(weekly(days=(1, 3, 8)))
    assert (got.occurrences, got.first_start.day, got.last_start.day, got.next_start) == (
        3, 1, 8, None)
    assert got.subject == "S 1:1"


def test_declined_says_who_declined():
    events = weekly(attendees=[attendee(FEMI, "declined")], responseStatus={"response": "declined"})
    assert rejection(events).declined_by == (FEMI, ROSA)


def test_copied_names_the_other_series_and_next_start():
    got = rejection(with_uid("A", goid_on(1)) + with_uid("B", goid_on(2), attendees=[attendee(HANNAH)]),
                    "A")
    assert (got.reason, got.copies, got.next_start.day) == ("copied", ("B",), 15)


def test_malformed_gives_a_problem_code_and_position_but_no_content():
    got = run([ev("S-1", start=None, subject="Secret")]).rejected[0]
    assert (got.kind, got.problem, got.position, got.subject, got.people) == (
        "entry", "no_readable_start", 0, None, ())


def test_cli_output_holds_only_the_spec_fields():
    result = run(weekly() + weekly("T", attendees=[attendee(FEMI), attendee(HANNAH)]))
    out = result.to_json()
    assert set(out) == {"candidates", "rejected"}
    assert set(out["candidates"][0]) == {"series_id", "report", "subject", "next_start",
                                         "occurrences"}
    assert set(out["rejected"][0]) == {"series_id", "reason"}


# --- in-process callers -----------------------------------------------------------------

def test_judge_takes_people_and_an_aware_now():
    now = datetime(2027, 3, 10, 10, 0, 0, 999999, tzinfo=timezone.utc)
    result = judge(now, Person(ROSA), [Person(FEMI, (FEMI_ALIAS,))], weekly())
    assert [c.series_id for c in result.candidates] == ["S"]


@pytest.mark.parametrize("now, manager, reports, events", [
    (datetime(2027, 3, 10), Person(ROSA), [], []),
    ("2027-03-10T09:00:00Z", Person(ROSA), [], []),
    (datetime(2027, 3, 10, tzinfo=timezone.utc), Person(" "), [], []),
    (datetime(2027, 3, 10, tzinfo=timezone.utc), Person(ROSA, (ROSA_ALIAS,)),
     [Person(ROSA_ALIAS)], []),
    (datetime(2027, 3, 10, tzinfo=timezone.utc), Person(ROSA), [Person(FEMI, "f")], []),
    (datetime(2027, 3, 10, tzinfo=timezone.utc), Person(ROSA), [], {"a": 1}),
], ids=["naive-now", "string-now", "blank-email", "alias-claimed-twice", "aliases-a-string",
        "events-not-a-list"])
def test_judge_refuses_unusable_input(now, manager, reports, events):
    with pytest.raises(FilterInputError):
        judge(now, manager, reports, events)


def test_judge_does_not_change_its_input():
    events = weekly() + ["junk", {"id": "S-1", "@removed": {}}]
    before = copy.deepcopy(events)
    run(events)
    assert events == before
