"""Cadence in words, names in sentences, and the skeleton of an occurrence the filter does not read."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listening.filters import Participant, Rejected
from listening.one_on_ones.cadence import (
    cadence_in_words,
    local_time,
    upcoming,
    zone_of,
)
from listening.one_on_ones.calendar import pick, skeleton
from listening.one_on_ones.wording import attention_reason, join_names, why_not

T0 = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)  # a Monday


def every(days: float, n: int = 8, skip: tuple[int, ...] = ()) -> list[datetime]:
    return [T0 + timedelta(days=days * i) for i in range(n) if i not in skip]


def monthly(n: int = 6, last_thursday: bool = False) -> list[datetime]:
    starts, day = [], T0
    for _ in range(n):
        starts.append(day)
        day = day + timedelta(days=35 if last_thursday and len(starts) % 3 == 0 else 28 + len(starts) % 4)
    return starts


@pytest.mark.parametrize("starts, words", [
    (every(1), "daily"),
    (every(7), "weekly"),
    (every(7, skip=(3,)), "weekly"),                      # one cancelled occurrence
    (every(7)[:3] + [every(7)[3] + timedelta(days=1, hours=2)] + every(7)[4:], "weekly"),  # one moved
    (every(14), "every 2 weeks"),
    (every(21), "every 3 weeks"),
    (every(28), "monthly"),
    (monthly(), "monthly"),
    (monthly(last_thursday=True), "monthly"),
    (every(61), "every 2 months"),
    (every(91), "every 3 months"),
    (every(42), "every 6 weeks"),
    (every(3.5), "twice a week"),
    (every(10), "about every 10 days"),
    (every(7, n=1), "only one occurrence in view"),
    ([], "only one occurrence in view"),
    (list(reversed(every(14))), "every 2 weeks"),
])
def test_cadence_in_words(starts, words):
    assert cadence_in_words(starts) == words


def test_local_time_in_the_persons_zone_and_unknown_zones_read_as_utc():
    assert local_time(T0, zone_of("America/Los_Angeles")) == "Mon 5 Jan 2026, 09:00"
    assert local_time(T0, zone_of("Asia/Kolkata")) == "Mon 5 Jan 2026, 22:30"
    assert local_time(T0, zone_of("Not/AZone")) == "Mon 5 Jan 2026, 17:00"
    assert local_time(T0, zone_of(None)) == "Mon 5 Jan 2026, 17:00"


def test_upcoming_keeps_the_first_few_from_now():
    assert upcoming(every(7), T0 + timedelta(days=8), 2) == [T0 + timedelta(days=14), T0 + timedelta(days=21)]
    assert upcoming(every(7), T0, 1) == [T0]


@pytest.mark.parametrize("names, text", [
    ([], ""), (["Ana"], "Ana"), (["Ana", "Bo"], "Ana and Bo"), (["Ana", "Bo", "Chen"], "Ana, Bo and Chen"),
    (list("ABCDEF"), "A, B, C, D, E and F"), (list("ABCDEFGH"), "A, B, C, D, E and 3 others"),
])
def test_join_names(names, text):
    assert join_names(names) == text


def _people(*emails, manager="me@x.com"):
    return tuple(Participant(e, None, "manager" if e == manager else "other") for e in emails)


NAMES = {"me@x.com": "you", "ana@x.com": "Ana"}.get


def names(email):
    return NAMES(email) or email


@pytest.mark.parametrize("rejected, text", [
    (Rejected("s", "not_two_people", people=_people("me@x.com", "ana@x.com", "bo@y.com", "chen@y.com")),
     "more than two people: Ana, bo@y.com and chen@y.com"),
    (Rejected("s", "not_two_people", people=_people("a@y.com", "b@y.com", "c@y.com")),
     "more than two people: a@y.com, b@y.com and c@y.com"),
    (Rejected("s", "not_two_people", people=_people("me@x.com")), "nobody else is invited"),
    (Rejected("s", "not_two_people"), "it has no organizer or attendees"),
    (Rejected("s", "manager_not_participant", people=_people("ana@x.com", "group@x.com")),
     "you are not one of its two people (Ana and group@x.com); it reached your calendar another way, "
     "e.g. through a group"),
    (Rejected("s", "not_direct_report", people=_people("me@x.com", "boss@x.com")),
     "boss@x.com does not report to you in the directory"),
    (Rejected("s", "declined", declined_by=("me@x.com",)), "you declined it"),
    (Rejected("s", "declined", declined_by=("ana@x.com", "me@x.com")), "Ana and you declined it"),
    (Rejected("s", "private", withheld=True), "it is marked private, so Listening does not look at it"),
    (Rejected("s", "ended"), "it has ended: no occurrence from now on"),
])
def test_why_not_in_plain_words(rejected, text):
    assert why_not(rejected, names) == text


def test_attention_reasons_carry_no_meeting_content():
    assert attention_reason("declined", "Ana", declined_by_manager=True) == "You declined the meeting series."
    assert attention_reason("declined", "Ana", declined_by_manager=False) == "Ana declined the meeting series."
    assert "private" in attention_reason("private", "Ana", False)


def test_a_skeleton_holds_only_what_the_filter_reads_on_other_occurrences():
    assert skeleton("a1", "A", "exception", T0) == {
        "id": "a1", "type": "exception", "isCancelled": False, "seriesMasterId": "A",
        "start": {"dateTime": "2026-01-05T17:00:00", "timeZone": "UTC"}}


def _pick(*rows):
    rep, live = pick(*zip(*rows))
    return rep[0], [member[0] for member in live]


D = timedelta(days=7)


def test_pick_the_latest_live_occurrence_and_the_live_ones_in_start_then_code_point_order():
    assert _pick(("a1", "occurrence", T0, False), ("a3", "occurrence", T0 + 2 * D, True),
                 ("a2", "exception", T0 + D, False)) == ("a2", ["a1", "a2"])
    # Equal starts: code-point order, where "B" < "a" ("CB" < "Ca" < "Cb").
    assert _pick(("Cb", "occurrence", T0, False), ("CB", "occurrence", T0, False),
                 ("Ca", "occurrence", T0, False)) == ("Cb", ["CB", "Ca", "Cb"])
    # A live occurrence without a start is malformed: never live, never the representative.
    assert _pick(("x1", "occurrence", None, False), ("x0", "occurrence", T0, True)) == ("x0", [])
    assert _pick(("x9", "occurrence", None, False), ("x0", "occurrence", None, True)) == ("x0", [])


def test_pick_with_no_live_occurrence_takes_the_latest_of_any_kind_a_missing_start_first():
    assert _pick(("b1", "occurrence", T0, True), ("b0", "occurrence", T0 - D, True),
                 ("b2", "occurrence", None, True)) == ("b1", [])


def test_pick_a_master_only_stands_in_for_a_series_without_occurrences():
    assert _pick(("M", "seriesMaster", T0, False)) == ("M", ["M"])
    assert _pick(("M", "seriesMaster", T0, True)) == ("M", [])
    assert _pick(("M", "seriesMaster", T0 + D, False), ("m1", "occurrence", T0, True)) == ("m1", [])
