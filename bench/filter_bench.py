"""How long the 1-on-1 filter takes on a realistic 5,000-event mailbox.

    python bench/filter_bench.py [--events 5000] [--runs 15]

Builds Graph-like calendarView events (full objects, as in tests/data/filter-examples)
for a manager with 12 reports over twelve weeks: weekly and biweekly 1-on-1s,
team meetings, peers, private, all-day, cancelled, declined, copied and ended
series, one-offs, a few malformed entries, several time zones. Prints the
median and max of several runs for judge() alone, for the in-process command
line path (JSON text in, JSON text out), and for the real command line.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from listening.filters import judge, load_json, main, parse_input  # noqa: E402
from tests.support.calendars import goid  # noqa: E402

DOMAIN = "tailspin.test"
MANAGER = f"rosa@{DOMAIN}"
REPORTS = [f"report{i}@{DOMAIN}" for i in range(12)]
PEERS = [f"peer{i}@{DOMAIN}" for i in range(30)]
NOW = datetime(2027, 3, 10, 9, 0)
ZONES = ["UTC"] * 6 + ["W. Europe Standard Time", "Pacific Standard Time", "Europe/London"]


def event(rng, eid, kind, start, people, organizer, **extra) -> dict:
    """One Graph event object with the fields calendarView returns."""
    uid_tail = extra.pop("uid_tail", f"{rng.getrandbits(128):032X}")
    return {
        "@odata.etag": f'W/"{rng.getrandbits(64):016x}"', "id": eid,
        "createdDateTime": "2026-11-20T09:30:00.0000000Z",
        "lastModifiedDateTime": "2026-11-23T09:47:41.0000000Z", "categories": [],
        "iCalUId": goid(uid_tail, None if kind == "singleInstance" else start.date(), created="001CB8B6D178DD01"),
        "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False,
        "subject": extra.pop("subject", "Meeting"), "bodyPreview": "", "importance": "normal",
        "sensitivity": extra.pop("sensitivity", "normal"), "isAllDay": extra.pop("all_day", False),
        "isCancelled": extra.pop("cancelled", False), "isOrganizer": organizer == MANAGER,
        "seriesMasterId": extra.pop("series", None), "showAs": "busy", "type": kind,
        "responseStatus": {"response": extra.pop("response", "accepted"),
                           "time": "2026-10-02T08:14:51Z"},
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                  "timeZone": extra.pop("zone", "UTC")},
        "end": {"dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": "UTC"},
        "location": {"displayName": "", "locationType": "default"}, "locations": [],
        "attendees": [{"type": t, "status": {"response": r, "time": "2026-10-02T08:14:51Z"},
                       "emailAddress": {"name": a.split("@")[0].title(), "address": a}}
                      for a, t, r in people],
        "organizer": {"emailAddress": {"name": organizer.split("@")[0].title(),
                                       "address": organizer}},
        "onlineMeeting": {"joinUrl": "https://teams.example/l/meetup-join/" + eid},
        **extra,
    }


def series(rng, sid, first, every_days, count, people, organizer, **extra) -> list[dict]:
    zone = rng.choice(ZONES)
    uid_tail = extra.pop("uid_tail", f"{rng.getrandbits(128):032X}")
    cancel_one = rng.random() < 0.3
    out = []
    for n in range(count):
        start = first + timedelta(days=every_days * n)
        out.append(event(rng, f"{sid}-{n}", "occurrence", start, people, organizer, series=sid,
                         zone=zone, uid_tail=uid_tail,
                         cancelled=extra.get("cancelled", False) or (cancel_one and n == 3),
                         **{k: v for k, v in extra.items() if k != "cancelled"}))
    return out


def mailbox(target: int, seed: int = 7) -> list[dict]:
    """About ``target`` events; the mix of kinds is fixed, the details random."""
    rng = random.Random(seed)
    start0 = NOW - timedelta(weeks=6)
    events: list[dict] = []
    kinds = [_one_on_one, _team, _peer, _private, _all_day, _cancelled, _declined,
             _ended, _copied, _one_off, _one_off, _one_off, _one_off]
    n = 0
    while len(events) < target:
        kind = kinds[n % len(kinds)]
        first = start0 + timedelta(days=rng.randrange(7), hours=rng.randrange(8, 17))
        events.extend(kind(rng, f"S{n:05d}", first))
        n += 1
    events = events[:target - 6] + ["not an event", {"id": 1}, {"id": "bad", "type": "?"},
                                    {"id": "x", "@removed": {"reason": "deleted"}},
                                    *events[:2]]  # a repeat page
    return events


def _pair(rng):
    return [(rng.choice(REPORTS), "required", "accepted")]


def _one_on_one(rng, sid, first):
    return series(rng, sid, first, rng.choice([7, 14]), 12, _pair(rng), MANAGER, subject="1:1")


def _team(rng, sid, first):
    invited = rng.sample(REPORTS + PEERS, rng.randrange(3, 20))
    people = [(a, "required", "accepted") for a in invited]
    people.append(("room1@" + DOMAIN, "resource", "accepted"))
    return series(rng, sid, first, 7, 12, people, MANAGER, subject="Team sync")


def _peer(rng, sid, first):
    return series(rng, sid, first, 14, 6, [(MANAGER, "required", "accepted")], rng.choice(PEERS))


def _private(rng, sid, first):
    return series(rng, sid, first, 7, 12, _pair(rng), MANAGER, sensitivity="private")


def _all_day(rng, sid, first):
    return series(rng, sid, first.replace(hour=0), 7, 12, _pair(rng), MANAGER, all_day=True)


def _cancelled(rng, sid, first):
    return series(rng, sid, first, 7, 8, _pair(rng), MANAGER, cancelled=True)


def _declined(rng, sid, first):
    return series(rng, sid, first, 7, 12, [(rng.choice(REPORTS), "required", "declined")], MANAGER)


def _ended(rng, sid, first):
    return series(rng, sid, first - timedelta(weeks=8), 7, 8, _pair(rng), MANAGER)


def _copied(rng, sid, first):
    tail = f"{rng.getrandbits(128):032X}"
    return (series(rng, sid + "a", first, 7, 12, _pair(rng), MANAGER, uid_tail=tail)
            + series(rng, sid + "b", first, 7, 12, _pair(rng), MANAGER, uid_tail=tail))


def _one_off(rng, sid, first):
    start = first + timedelta(days=rng.randrange(60))
    return [event(rng, sid, "singleInstance", start, _pair(rng), MANAGER)]


def timed(fn, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each run (CPU time is steadier on a shared machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return wall, cpu


def show(label: str, times: tuple[list[float], list[float]]) -> None:
    wall, cpu = times
    print(f"{label:<44} wall median {statistics.median(wall) * 1000:6.1f} ms, "
          f"max {max(wall) * 1000:6.1f} ms; CPU median {statistics.median(cpu) * 1000:6.1f} ms, "
          f"max {max(cpu) * 1000:6.1f} ms ({len(wall)} runs)")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    events = mailbox(args.events)
    payload = {"now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "manager": {"email": MANAGER, "aliases": []},
               "reports": [{"email": r} for r in REPORTS], "events": events}
    text = json.dumps(payload).encode()
    args_in = parse_input(load_json(text))
    result = judge(*args_in)
    reasons = Counter(r.reason for r in result.rejected)
    print(f"{len(events)} events, {len(text) / 1e6:.1f} MB of JSON, load average "
          f"{os.getloadavg()[0]:.1f}: {len(result.candidates)} candidates, "
          f"rejected {dict(sorted(reasons.items()))}")
    show("judge()", timed(lambda: judge(*args_in), args.runs))
    show("JSON in -> judge -> JSON out (in process)",
         timed(lambda: main(io.BytesIO(text), io.StringIO(), io.StringIO()), args.runs))
    wall, _ = timed(lambda: subprocess.run(
        [sys.executable, "-m", "listening.filters"], input=text, capture_output=True,
        cwd=ROOT, check=True), max(3, args.runs // 3))
    print(f"{'python -m listening.filters (whole process)':<44} wall median "
          f"{statistics.median(wall) * 1000:6.1f} ms, max {max(wall) * 1000:6.1f} ms "
          f"({len(wall)} runs)")


if __name__ == "__main__":
    main_bench()
