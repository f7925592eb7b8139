"""The seeds and the World: per-mailbox copies, edits, delta logs, decoys, scale."""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from emulator import goid
from emulator.seeds import build_world, window
from listening.filters import REASONS, Person, judge

ANCHOR = date(2026, 11, 23)
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)   # a Tuesday in the anchor's week


@pytest.fixture(scope="module")
def demo():
    return build_world("demo", ANCHOR)


@pytest.fixture
def world():
    """A private demo world for tests that edit it."""
    return build_world("demo", ANCHOR, clock=lambda: NOW)


def view_of(world, email: str) -> list[dict]:
    return world.mailbox(world.user_by_email(email).oid).view(*window(world.anchor))


def verdicts(world, user):
    reports = [Person(r.email, tuple(r.aliases)) for r in world.direct_reports(user.oid)]
    events = world.mailbox(user.oid).view(*window(world.anchor))
    return judge(NOW, Person(user.email, tuple(user.aliases)), reports, events)


def series_in(events: list[dict], subject: str) -> list[dict]:
    return [e for e in events if e["subject"] == subject]


# -- directory ----------------------------------------------------------------
def test_demo_directory(demo):
    tenants = {t.domain: t for t in demo.tenants.values()}
    assert tenants["contoso.com"].requires_admin_consent is False
    assert tenants["fabrikam.com"].requires_admin_consent is True
    assert 38 <= sum(u.tenant_id == tenants["contoso.com"].id for u in demo.users.values()) <= 45
    titles = Counter(u.job_title for u in demo.users.values())
    assert titles["HR Business Partner"] == 1 and titles["HR Director"] == 1
    assert titles["HR Coordinator"] == 1  # Fabrikam's HR admin in the demo
    assert demo.user_by_email("J.Smith@Contoso.com").email == "james.smith@contoso.com"
    managers = [u for u in demo.users.values() if demo.direct_reports(u.oid)]
    sizes = sorted(len(demo.direct_reports(m.oid)) for m in managers)
    assert max(sizes) == 8 and sizes.count(1) == 1           # only Fabrikam's CEO has one
    assert len({u.time_zone for u in demo.users.values()}) >= 5


def test_seeds_are_deterministic():
    one, two = build_world("demo", ANCHOR), build_world("demo", ANCHOR)
    email = "daniel.okafor@contoso.com"
    assert json.dumps(view_of(one, email)) == json.dumps(view_of(two, email))
    assert build_world("demo", ANCHOR + timedelta(weeks=1)).users.keys() == one.users.keys()


# -- copies -------------------------------------------------------------------
def test_each_participant_has_an_own_copy(demo):
    daniel = series_in(view_of(demo, "daniel.okafor@contoso.com"), "James / Daniel weekly 1:1")
    james = series_in(view_of(demo, "james.smith@contoso.com"), "James / Daniel weekly 1:1")
    assert len(daniel) == len(james) > 10
    for mine, theirs in zip(daniel, james):
        assert mine["iCalUId"] == theirs["iCalUId"] and mine["id"] != theirs["id"]
        assert mine["start"] == theirs["start"]
        assert mine["isOrganizer"] and not theirs["isOrganizer"]
        assert mine["responseStatus"]["response"] == "organizer"
        assert theirs["responseStatus"]["response"] == "accepted"
    # Occurrences differ only in the instance date; the master carries zeros there.
    keys = {goid.series_key(e["iCalUId"]) for e in daniel}
    assert len(keys) == 1 and len({e["iCalUId"] for e in daniel}) == len(daniel)
    master = demo.mailbox(demo.user_by_email("daniel.okafor@contoso.com").oid).get(
        daniel[0]["seriesMasterId"])
    assert master["type"] == "seriesMaster" and master["recurrence"]["pattern"]["type"] == "weekly"
    assert goid.parse(master["iCalUId"]).instance_date is None
    assert goid.parse(daniel[0]["iCalUId"]).instance_date == date.fromisoformat(
        daniel[0]["originalStart"][:10])


def test_views_hold_no_masters_and_are_sorted(demo):
    for user in demo.users.values():
        events = demo.mailbox(user.oid).view(*window(ANCHOR))
        assert all(e["type"] != "seriesMaster" for e in events)
        assert events == sorted(events, key=lambda e: (e["start"]["dateTime"], e["id"]))


def test_instances_and_get_agree_with_the_view(demo):
    box = demo.mailbox(demo.user_by_email("ravi.patel@contoso.com").oid)
    events = series_in(box.view(*window(ANCHOR)), "Ravi <> Daniel 1:1")
    master = events[0]["seriesMasterId"]
    assert box.instances(master, *window(ANCHOR)) == events
    assert box.get(events[3]["id"]) == events[3]
    assert box.get("AAMkAGnothing") is None
    with pytest.raises(KeyError):
        box.instances("AAMkAGnothing", *window(ANCHOR))


# -- edits and delta ------------------------------------------------------------
def test_cancel_occurrence_leaves_every_view_and_is_logged(world):
    daniel = world.mailbox(world.user_by_email("daniel.okafor@contoso.com").oid)
    james = world.mailbox(world.user_by_email("james.smith@contoso.com").oid)
    version = james.version
    target = series_in(daniel.view(*window(ANCHOR)), "James / Daniel weekly 1:1")[-1]
    theirs = next(e for e in james.view(*window(ANCHOR)) if e["iCalUId"] == target["iCalUId"])
    world.cancel_occurrence(target["id"])
    assert daniel.get(target["id"]) is None and james.get(theirs["id"]) is None
    assert target["iCalUId"] not in {e["iCalUId"] for e in james.view(*window(ANCHOR))}
    assert james.changes_since(version, *window(ANCHOR)) == ([], [theirs["id"]], james.version)
    assert james.version > version
    assert james.changes_since(james.version) == ([], [], james.version)


def test_move_makes_an_exception_with_a_new_change_key(world):
    box = world.mailbox(world.user_by_email("daniel.okafor@contoso.com").oid)
    target = series_in(box.view(*window(ANCHOR)), "Ravi <> Daniel 1:1")[-2]
    start = datetime.fromisoformat(target["start"]["dateTime"][:19]).replace(tzinfo=timezone.utc)
    world.move_occurrence(target["id"], start + timedelta(hours=1), start + timedelta(hours=2))
    moved = box.get(target["id"])
    assert moved["type"] == "exception" and moved["originalStart"] == target["originalStart"]
    assert moved["start"]["dateTime"][11:13] == f"{(start.hour + 1) % 24:02d}"
    assert moved["changeKey"] != target["changeKey"]
    assert moved["@odata.etag"] == f'W/"{moved["changeKey"]}"'
    assert [target["id"]] == box.changes_since(0, *window(ANCHOR))[0]


def test_sensitivity_attendee_copy_and_delete(world):
    daniel = world.user_by_email("daniel.okafor@contoso.com")
    box = world.mailbox(daniel.oid)
    series = series_in(box.view(*window(ANCHOR)), "Lucas / Daniel 1:1")
    master = series[0]["seriesMasterId"]
    before = box.version
    world.set_sensitivity(master, "private")
    assert {e["sensitivity"] for e in box.instances(master, *window(ANCHOR))} == {"private"}
    assert set(box.changes_since(before, *window(ANCHOR))[0]) == {e["id"] for e in series}
    new_id = world.add_attendee(master, "wei.zhang@contoso.com")
    assert world.mailbox(world.user_by_email("wei.zhang@contoso.com").oid).get(new_id)
    copy_id = world.copy_series(master)
    copy = box.get(copy_id)
    assert copy["id"] != master and copy["iCalUId"] == box.get(master)["iCalUId"]
    world.delete_series(copy_id)          # Lucas organizes: Daniel only drops his copy
    assert box.get(copy_id) is None and copy_id in box.changes_since(before)[1]
    lucas = world.mailbox(world.user_by_email("lucas.meyer@contoso.com").oid)
    lucas_master = lucas.view(*window(ANCHOR))
    lucas_master = series_in(lucas_master, "Lucas / Daniel 1:1")[0]["seriesMasterId"]
    world.delete_series(lucas_master)     # the organizer cancels: attendees see "Canceled:"
    left = series_in(box.view(*window(ANCHOR)), "Canceled: Lucas / Daniel 1:1")
    assert left and all(e["isCancelled"] for e in left)
    assert lucas.get(lucas_master) is None


def test_add_occurrence_and_create_meeting(world):
    box = world.mailbox(world.user_by_email("daniel.okafor@contoso.com").oid)
    target = series_in(box.view(*window(ANCHOR)), "James / Daniel weekly 1:1")[-1]
    start = datetime.fromisoformat(target["start"]["dateTime"][:19]).replace(tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        world.add_occurrence(target["seriesMasterId"], start, start + timedelta(minutes=30))
    extra = world.add_occurrence(target["seriesMasterId"], start + timedelta(days=1),
                                 start + timedelta(days=1, minutes=30))
    assert box.get(extra)["type"] == "exception"
    new = world.create_meeting("daniel.okafor@contoso.com", ["ana.costa@contoso.com"], "Hi",
                               start, start + timedelta(minutes=15))
    assert box.get(new)["type"] == "singleInstance" and new in box.changes_since(0)[0]


def test_bad_edits_raise_clear_errors(world):
    with pytest.raises(KeyError, match="no event"):
        world.cancel_occurrence("AAMkADnope=")
    master = view_of(world, "daniel.okafor@contoso.com")[0]["seriesMasterId"]
    with pytest.raises(ValueError, match="sensitivity"):
        world.set_sensitivity(master, "secret")
    with pytest.raises(ValueError, match="original_start"):
        world.cancel_occurrence(master)
    with pytest.raises(KeyError):
        world.create_meeting("nobody@contoso.com", [], "x", datetime.now(timezone.utc),
                             datetime.now(timezone.utc) + timedelta(hours=1))


# -- the demo's decoys -----------------------------------------------------------
def test_the_decoy_manager_shows_every_rejection_reason(demo):
    result = verdicts(demo, demo.user_by_email("daniel.okafor@contoso.com"))
    reasons = Counter(r.reason for r in result.rejected)
    assert set(REASONS) - {"malformed"} <= set(reasons)
    assert len(result.candidates) >= 5


def test_every_manager_has_candidates(demo):
    for user in demo.users.values():
        if demo.direct_reports(user.oid):
            assert verdicts(demo, user).candidates, user.email


def test_decoy_shapes(demo):
    daniel = view_of(demo, "daniel.okafor@contoso.com")
    assert any(e["type"] == "exception" for e in daniel)
    assert any(a["type"] == "resource" for e in daniel for a in e["attendees"])
    assert any(a["emailAddress"]["address"] == "j.smith@contoso.com"
               for e in daniel for a in e["attendees"])
    assert any(e["isAllDay"] and e["type"] == "singleInstance" for e in daniel)
    james = series_in(daniel, "James / Daniel weekly 1:1")
    gaps = {(datetime.fromisoformat(b["originalStart"][:19])
             - datetime.fromisoformat(a["originalStart"][:19])).days
            for a, b in zip(james, james[1:])}
    assert 14 in gaps                                     # a cancelled occurrence
    peer = series_in(view_of(demo, "wei.zhang@contoso.com"), "James / Wei pairing")
    assert peer and {a["emailAddress"]["address"] for a in peer[0]["attendees"]} == \
        {"wei.zhang@contoso.com"}
    noah = verdicts(demo, demo.user_by_email("priya.raman@contoso.com"))
    assert "Noah / Priya 1:1" in [c.subject for c in noah.candidates]


# -- scale ----------------------------------------------------------------------
@pytest.mark.parametrize("people, events", [(1, 0), (1, 7), (3, 30), (10, 500), (12, 200)])
def test_scale_gives_every_mailbox_exactly_m_events(people, events):
    world = build_world("scale", ANCHOR, people=people, events=events)
    assert len(world.users) == people
    for oid in world.users:
        assert len(world.mailbox(oid).view(*window(ANCHOR))) == events


def test_scale_twenty_thousand_event_mailbox():
    # How fast it builds is measured by bench/emulator_bench.py, never asserted here.
    world = build_world("scale", ANCHOR, people=1, events=20_000)
    view = world.mailbox(next(iter(world.users))).view(*window(ANCHOR))
    assert len(view) == 20_000
    assert Counter(e["type"] for e in view)["occurrence"] > 15_000
