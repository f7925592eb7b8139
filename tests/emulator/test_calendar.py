"""Recurrence expansion, time zones, Global Object IDs and item ids (pure parts)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from emulator import bodies, goid, ids
from emulator import calendar as cal
from emulator.world import Tenant, User, World

D = date.fromisoformat


def dates(rec: dict, first: str = "2000-01-01", last: str = "2100-01-01") -> list[str]:
    return [d.isoformat() for d in cal.occurrence_dates(rec, D(first), D(last))]


def test_daily_interval_and_end_date_inclusive():
    rec = cal.recurrence("daily", D("2026-03-01"), interval=3, end=D("2026-03-13"))
    assert dates(rec) == ["2026-03-01", "2026-03-04", "2026-03-07", "2026-03-10", "2026-03-13"]


def test_weekly_interval_two_depends_on_first_day_of_week():
    days = ("sunday", "monday")
    sunday = cal.recurrence("weekly", D("2026-03-02"), interval=2, days=days, count=4)
    monday = cal.recurrence("weekly", D("2026-03-02"), interval=2, days=days, count=4,
                            first_day="monday")
    assert dates(sunday) == ["2026-03-02", "2026-03-15", "2026-03-16", "2026-03-29"]
    assert dates(monday) == ["2026-03-02", "2026-03-08", "2026-03-16", "2026-03-22"]


def test_weekly_window_jumps_ahead_without_changing_the_phase():
    rec = cal.recurrence("weekly", D("2001-01-02"), interval=2, days=("tuesday",))
    got = dates(rec, "2026-11-01", "2026-11-30")
    assert got == ["2026-11-03", "2026-11-17"]
    assert all((D(d) - D("2001-01-02")).days % 14 == 0 for d in got)


def test_absolute_monthly_day_31_falls_on_the_last_day_of_short_months():
    rec = cal.recurrence("absoluteMonthly", D("2026-01-31"), day_of_month=31, count=4)
    assert dates(rec) == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]


def test_relative_monthly_last_friday():
    rec = cal.recurrence("relativeMonthly", D("2026-01-30"), days=("friday",), index="last",
                         end=D("2026-05-01"))
    assert dates(rec) == ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]


def test_relative_monthly_second_tuesday_every_other_month():
    rec = cal.recurrence("relativeMonthly", D("2026-01-13"), interval=2, days=("tuesday",),
                         index="second", count=3)
    assert dates(rec) == ["2026-01-13", "2026-03-10", "2026-05-12"]


def test_yearly_patterns():
    absolute = cal.recurrence("absoluteYearly", D("2024-02-29"), month=2, day_of_month=29,
                              count=3)
    relative = cal.recurrence("relativeYearly", D("2026-11-26"), month=11, days=("thursday",),
                              index="fourth", count=2)
    assert dates(absolute) == ["2024-02-29", "2025-02-28", "2026-02-28"]
    assert dates(relative) == ["2026-11-26", "2027-11-25"]


def test_numbered_range_counts_from_the_series_start_not_the_window():
    rec = cal.recurrence("weekly", D("2026-03-02"), days=("monday",), count=5)
    assert dates(rec, "2026-03-20", "2026-12-31") == ["2026-03-23", "2026-03-30"]
    assert cal.last_date(rec) == D("2026-03-30")


def test_no_end_has_no_last_date_and_graph_zero_end():
    rec = cal.recurrence("weekly", D("2026-03-02"), days=("monday",))
    assert rec["range"]["type"] == "noEnd" and rec["range"]["endDate"] == "0001-01-01"
    assert cal.last_date(rec) is None


def test_unknown_pattern_and_zone_are_refused():
    with pytest.raises(ValueError):
        dates({"pattern": {"type": "hourly"}, "range": {"type": "noEnd",
                                                        "startDate": "2026-01-01"}})
    with pytest.raises(KeyError):
        cal.zone("Mars Standard Time")


def tiny_world() -> tuple[World, User, User]:
    world = World("t", D("2026-10-19"))
    tenant = world.add_tenant(Tenant("00000000-0000-0000-0000-000000000001", "T", "t.example"))
    boss = world.add_user(User("00000000-0000-0000-0000-0000000000b1", tenant.id,
                               "boss@t.example", "Bo Ss", ["b@t.example"],
                               time_zone="Pacific Standard Time"))
    report = world.add_user(User("00000000-0000-0000-0000-0000000000a1", tenant.id,
                                 "rep@t.example", "Re Port", manager_oid=boss.oid,
                                 time_zone="W. Europe Standard Time"))
    return world, boss, report


def utc_starts(world: World, user: User, start: str, end: str) -> list[str]:
    view = world.mailbox(user.oid).view(datetime.fromisoformat(start + "T00:00+00:00"),
                                        datetime.fromisoformat(end + "T00:00+00:00"))
    return [e["start"]["dateTime"] for e in view]


@pytest.mark.parametrize("zone, before, after", [
    ("Pacific Standard Time", "2026-10-27T17:00", "2026-11-03T18:00"),   # US DST ends Nov 1
    ("W. Europe Standard Time", "2026-10-20T08:00", "2026-10-27T09:00"),  # EU DST ends Oct 25
])
def test_series_keep_local_time_across_dst(zone, before, after):
    world, boss, report = tiny_world()
    rec = cal.recurrence("weekly", D("2026-10-06"), days=("tuesday",), time_zone=zone)
    local = cal.zone(zone)
    world.create_meeting(boss.email, [report.email], "1:1",
                         datetime(2026, 10, 6, 10, tzinfo=local),
                         datetime(2026, 10, 6, 10, 30, tzinfo=local), time_zone=zone,
                         recurrence=rec)
    starts = utc_starts(world, boss, "2026-10-19", "2026-11-05")
    assert before + ":00.0000000" in starts and after + ":00.0000000" in starts
    assert len(starts) == 3          # Tuesdays Oct 20, Oct 27, Nov 3


SAMPLE = ("040000008200E00074C5B7101A82E00800000000D3D70B8A6A17D701"
          "00000000000000001000000074665914A06C3F49BB4B7D7EEE4304DA")


def test_goid_decodes_the_docs_sample():
    # The worked decode of docs/microsoft-graph.md §4.
    decoded = goid.parse(SAMPLE)
    assert decoded.instance_date is None
    assert decoded.created.replace(microsecond=0) == datetime(2021, 3, 12, 18, 7, 18,
                                                              tzinfo=timezone.utc)
    assert decoded.data == bytes.fromhex("74665914A06C3F49BB4B7D7EEE4304DA")


def test_goid_layout_and_round_trip():
    created = datetime(2021, 3, 12, 18, 7, 18, 123400, tzinfo=timezone.utc)
    data = bytes.fromhex("74665914A06C3F49BB4B7D7EEE4304DA")
    series = goid.build(created, data)
    assert len(series) == 56 and goid.to_hex(series)[:40] == SAMPLE[:40]
    assert goid.to_hex(series)[56:] == SAMPLE[56:]          # reserved, size, data
    occurrence = goid.with_instance_date(series, date(2027, 3, 1))
    assert occurrence[16:20] == bytes([0x07, 0xEB, 3, 1])          # year big-endian
    assert series[16:20] == bytes(4)
    decoded = goid.parse(goid.to_hex(occurrence))
    assert decoded == goid.Goid(date(2027, 3, 1), created, data)
    assert goid.parse(series).instance_date is None
    assert goid.series_key(goid.to_hex(occurrence)) == goid.series_key(goid.to_hex(series))
    with pytest.raises(ValueError):
        goid.parse("00" * 56)


def test_occurrence_ids_are_stable_and_decode_to_master_and_date():
    master = ids.master_id("9c5de3f6-9218-518c-9292-427f00e0e97e", 42)
    other = ids.master_id("00000000-0000-0000-0000-0000000000a1", 42)
    assert master.startswith("AAMkA") and master != other
    occ = ids.occurrence_id(master, date(2026, 12, 8))
    assert occ == ids.occurrence_id(master, date(2026, 12, 8))
    assert occ != ids.occurrence_id(master, date(2026, 12, 15))
    assert ids.parse_occurrence_id(occ) == (master, date(2026, 12, 8))
    assert ids.parse_occurrence_id(master) is None
    assert ids.from_immutable(ids.to_immutable(occ)) == occ
    assert ids.change_key(occ, 1) != ids.change_key(occ, 2)


def test_view_window_is_half_open_and_skips_far_series_quickly():
    world, boss, report = tiny_world()
    pst = cal.zone("Pacific Standard Time")
    world.create_meeting(boss.email, [report.email], "old",
                         datetime(1990, 1, 2, 9, tzinfo=pst), datetime(1990, 1, 2, 9, 30, tzinfo=pst),
                         recurrence=cal.recurrence("daily", D("1990-01-02")))
    box = world.mailbox(boss.oid)
    start = datetime(2026, 1, 2, 17, tzinfo=timezone.utc)     # 09:00 PST exactly
    assert [e["start"]["dateTime"][:16] for e in box.view(start, start + timedelta(days=1))] \
        == ["2026-01-02T17:00"]
    assert box.view(start - timedelta(minutes=30), start) == []


@pytest.mark.parametrize("kind, online", [("one_on_one", True), ("team", False)])
def test_body_preview_is_the_text_of_the_html(kind, online):
    for seed in range(10):
        body, preview = bodies.meeting_body(kind, "s", "Dan Oak", random.Random(seed),
                                            "https://t.example/j", "tid", "oid", online)
        assert 3000 < len(body) if online else 1000 < len(body)
        assert bodies.preview(body) == preview and len(preview) == 255


@pytest.mark.parametrize("zone", ["Tokyo Standard Time", "Pacific Standard Time", "UTC"])
def test_count_instances_agrees_with_instances(zone):
    world, boss, report = tiny_world()
    local = cal.zone(zone)
    for hour in (0, 7, 16, 23):
        world.create_meeting(boss.email, [report.email], f"at {hour}",
                             datetime(2026, 9, 1, hour, tzinfo=local),
                             datetime(2026, 9, 1, hour, 45, tzinfo=local), time_zone=zone,
                             recurrence=cal.recurrence("daily", D("2026-09-01"), time_zone=zone))
    start = datetime(2026, 10, 1, 3, tzinfo=timezone.utc)
    for copy in world.mailbox(boss.oid).copies.values():
        m = copy.meeting
        assert m.count_instances(start, start + timedelta(days=9)) == \
            len(m.instances(start, start + timedelta(days=9)))
