"""1-on-1s page benchmark: Daniel (the demo's decoy mailbox) with 2,000 stored events and 12
direct reports, his page loaded repeatedly through the whole Flask app.

    python bench/page_bench.py                   # 2,000 events, 300 page loads
    python bench/page_bench.py --events 5000 --samples 500

Prints figures; asserts nothing (the target is p95 under 100 ms).

The data is the demo's, made bigger the way a real calendar grows: the emulator's
demo seed is served over loopback, four more people are moved under Daniel in the
directory (with a weekly 1-on-1 each, created through the emulator's control
API), his calendar is topped up with weekly customer syncs and one-off meetings
until calendarView holds ``--events`` events, and the real sync (listening.sync.mailbox)
stores them, trimmed and encrypted, in a scratch PostgreSQL database that is
dropped at the end (BENCH_DATABASE_ADMIN_URL, default 127.0.0.1:5432, else embedded).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import admin_url, answers, drop_database, scratch_database  # noqa: E402

from listening import sync  # noqa: E402
from listening.core import crypto  # noqa: E402
from listening.core.models import (  # noqa: E402
    CalendarItem,
    Connection,
    ConnectionState,
    Organization,
    Person,
    Role,
)
from listening.web.security import session_fields  # noqa: E402
from tests.support.apps import make_app, services_of  # noqa: E402

DANIEL = "daniel.okafor@contoso.com"
NEW_REPORTS = ("hannah.kim", "diego.ramos", "chloe.martin", "sam.taylor")
WINDOW = (timedelta(days=-30), timedelta(days=120))  # the organization's default window


def directory(app, users: list[dict]) -> tuple[int, int]:
    """Contoso as the demo imports it, plus four people moved under Daniel: (org id, Daniel's id)."""
    contoso = [u for u in users if u["email"].endswith("@contoso.com")]
    with services_of(app).db.unit_of_work() as session:
        org = Organization(tenant_id=contoso[0]["tenant"], name="Contoso")
        session.add(org)
        session.flush()
        people = {u["email"]: Person(org_id=org.id, email=u["email"], oid=u["oid"], display_name=u["name"],
                                     aliases=u["aliases"], time_zone="UTC",
                                     role=Role.manager if u["directReports"] else Role.employee)
                  for u in contoso}
        session.add_all(people.values())
        session.flush()
        for u in contoso:
            manager = u["manager"]
            if u["email"].split("@")[0] in NEW_REPORTS:
                manager = DANIEL
            people[u["email"]].manager_id = people[manager].id if manager else None
        people[DANIEL].time_zone = "America/Los_Angeles"
        session.flush()
        return org.id, people[DANIEL].id


def weekly(start: datetime) -> dict:
    return {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [start.strftime("%A").lower()]},
            "range": {"type": "noEnd", "startDate": start.date().isoformat()}}


def grow_calendar(emu, app, connection_id: int, target: int) -> int:
    """Add the four new 1-on-1s, then weekly series and singles until the sync stores ``target``."""
    first = (datetime.now(UTC) + WINDOW[0]).replace(hour=15, minute=0, second=0, microsecond=0)
    for n, name in enumerate(NEW_REPORTS):
        start = first + timedelta(days=n, hours=n)
        emu.calendar(action="create_meeting", organizer=DANIEL, attendees=[f"{name}@contoso.com"],
                     subject=f"{name.split('.')[0].title()} / Daniel 1:1", start=start.isoformat(),
                     end=(start + timedelta(minutes=30)).isoformat(), recurrence=weekly(start))
    stored = synced(app, connection_id)
    n = 0
    while target - stored >= 25:  # a weekly series adds ~21 occurrences to a 150-day window
        n += 1
        start = first + timedelta(days=n % 7, hours=n % 9, minutes=15 * (n % 4))
        emu.calendar(action="create_meeting", organizer=DANIEL,
                     attendees=[f"guest{n}@northwindtraders.com"], subject=f"Customer sync #{n}",
                     start=start.isoformat(), end=(start + timedelta(minutes=30)).isoformat(),
                     recurrence=weekly(start))
        if n % 10 == 0:
            stored = synced(app, connection_id)
    stored = synced(app, connection_id)
    for k in range(max(0, target - stored)):
        start = first + timedelta(days=1 + k % 140, hours=k % 10)
        emu.calendar(action="create_meeting", organizer=DANIEL, attendees=[], subject=f"Working session {k}",
                     start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat())
    return synced(app, connection_id)


def synced(app, connection_id: int) -> int:
    report = sync.run(services_of(app), connection_id, trigger="bench")
    if report.outcome.value != "ok":
        raise SystemExit(f"page_bench: the sync failed: {report.detail}")
    with services_of(app).db.unit_of_work() as session:
        return session.query(CalendarItem).filter_by(connection_id=connection_id).count()


def link(app, emu, org_id: int, daniel_id: int) -> int:
    with services_of(app).db.unit_of_work() as session:
        connection = Connection(org_id=org_id, person_id=daniel_id, state=ConnectionState.linked,
                                account_email=DANIEL, linked_at=datetime.now(UTC))
        session.add(connection)
        session.flush()
        with app.app_context():
            services_of(app).tokens.save(session, connection, emu.mint_token(DANIEL))
        return connection.id


def attach_some(app, daniel_id: int, now: datetime) -> int:
    """Attach the first candidate of every other report, as a manager would over time."""
    from listening.one_on_ones import attach, manager_page

    attached = 0
    with app.app_context(), services_of(app).db.unit_of_work() as session:
        daniel = session.get(Person, daniel_id)
        for i, section in enumerate(manager_page(session, services_of(app).keys, daniel, now).reports):
            if section.candidates and i % 2 == 0:
                attach(session, services_of(app).keys, daniel, section.person.id, section.candidates[0].series_id, now)
                attached += 1
    return attached


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def statements_per_load(app, client) -> int:
    from sqlalchemy import event

    seen = []
    engine = services_of(app).db.engine

    def count(*_):
        seen.append(1)
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/one-on-ones")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def measure_pages(app, org_id: int, daniel_id: int, samples: int) -> list[float]:
    client = app.test_client()
    with client.session_transaction() as s:
        s.update(session_fields(daniel_id, org_id))
    for _ in range(20):  # warm the pool, the templates and the caches; not counted
        assert client.get("/one-on-ones").status_code == 200
    print(f"SQL statements per page load: {statements_per_load(app, client)}")
    timings, cpu = [], []
    for _ in range(samples):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/one-on-ones")
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
    return timings, cpu


def profile_pages(app, org_id: int, daniel_id: int, loads: int) -> None:
    import cProfile
    import pstats

    client = app.test_client()
    with client.session_transaction() as s:
        s.update(session_fields(daniel_id, org_id))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(loads):
        client.get("/one-on-ones")
    profiler.disable()
    print(f"\nprofile of {loads} page loads (own time, top 30):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def measure_parts(app, daniel_id: int, rounds: int = 50) -> dict[str, float]:
    """Median ms of the page's parts, to show where the time goes."""
    from listening import filters
    from listening.one_on_ones.calendar import load_recurring
    from listening.one_on_ones.judged import filter_person, judge_calendar

    parts = {"load_recurring (query + decrypt)": [], "filters.judge": [], "judge_calendar (all)": []}
    with app.app_context(), services_of(app).db.sessionmaker() as session:
        daniel = session.get(Person, daniel_id)
        connection = session.query(Connection).filter_by(person_id=daniel_id).one()
        reports = [filter_person(p) for p in session.query(Person).filter_by(manager_id=daniel_id)]
        now = datetime.now(UTC)
        for _ in range(rounds):
            t0 = time.perf_counter()
            stored = load_recurring(session, services_of(app).keys, connection, now)
            t1 = time.perf_counter()
            filters.judge(now, filter_person(daniel), reports, stored.events)
            t2 = time.perf_counter()
            judge_calendar(session, services_of(app).keys, daniel, now)
            t3 = time.perf_counter()
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
                parts[key].append(value * 1000)
            session.expunge_all()
        counts = (len(stored.events), len(stored.live_starts))
    return {k: statistics.median(v) for k, v in parts.items()}, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events stored for the manager")
    parser.add_argument("--samples", type=int, default=300, help="page loads to time")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N page loads and print the costliest functions")
    args = parser.parse_args()

    from emulator.testing import running_emulator

    admin, server = admin_url()
    name, url = scratch_database(admin, "page")
    try:
        with running_emulator(seed="demo", control=True) as emu, tempfile.TemporaryDirectory() as tmp:
            redis_url = "redis://127.0.0.1:6379/0" if answers("127.0.0.1", 6379) else None
            app = make_app(url, redis_url, "", emu.url, tmp, TESTING=False, secret_key="bench",
                           keys=os.environ.get("BENCH_KEYS") or crypto.new_key_spec("bench"))
            org_id, daniel_id = directory(app, emu.users())
            connection_id = link(app, emu, org_id, daniel_id)
            stored = grow_calendar(emu, app, connection_id, args.events)
            attached = attach_some(app, daniel_id, datetime.now(UTC))
            parts, (judged, series) = measure_parts(app, daniel_id)
            timings = measure_pages(app, org_id, daniel_id, args.samples)
            report(stored, judged, series, attached, parts, timings)
            if args.profile:
                profile_pages(app, org_id, daniel_id, args.profile)
            services_of(app).db.dispose()
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            drop_database(admin, name)
        del server


def report(stored, judged, series, attached, parts, measured) -> None:
    timings, cpu = measured
    print(f"\nDaniel Okafor: {stored:,} stored events in {series} recurring series and some singles, "
          f"12 direct reports, {attached} 1-on-1s attached; per load {series} decryptions and "
          f"{judged} entries given to the filter")
    for part, ms in parts.items():
        print(f"  {part:<34} median {ms:7.2f} ms")
    print(f"GET /one-on-ones through the Flask app, {len(timings)} loads:")
    print(f"  p50 {pct(timings, 50):7.2f} ms   p95 {pct(timings, 95):7.2f} ms   "
          f"p99 {pct(timings, 99):7.2f} ms   max {max(timings):7.2f} ms")
    print(f"  this process's CPU time per load: p50 {pct(cpu, 50):7.2f} ms   p95 {pct(cpu, 95):7.2f} ms "
          f"(wall minus CPU is waiting: PostgreSQL, and other processes on a busy machine)")
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"target p95 < 100 ms: {'met' if pct(timings, 95) < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
