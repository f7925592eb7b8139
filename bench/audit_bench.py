"""Audit log benchmark: load 1,000,000 chained entries into a scratch database, then time the
audit page's query (listening.audit_log.page) over random filter and page combinations,
and the whole page (GET /admin/audit through the Flask app) over the same kind of mix.

    python bench/audit_bench.py                      # 1,000,000 entries, 2,000 queries, 300 pages
    python bench/audit_bench.py --entries 200000 --samples 500 --page-samples 200 --skip-verify

Prints figures; asserts nothing (the target is p95 under 100 ms). The database is
created on BENCH_DATABASE_ADMIN_URL (default: the PostgreSQL on 127.0.0.1:5432, else
an embedded one) and dropped at the end unless --keep.

Entries are chained in Python with listening.audit.chain_hash (the same code as
audit.record) and loaded with COPY, so ``audit.verify`` accepts the result; the
benchmark verifies the big chain once and prints how long that took.

The whole-page figures are for what the HR admin waits for: the app (create_app on the
scratch database and Redis on 127.0.0.1:6379) signs in an HR admin of the big
organization (its directory is the 1,000 people the entries name), and each GET
/admin/audit parses the filters, runs the query, looks up names, lists the directory
for the actor and person filters, reads the last verification verdict, appends an
``audit:viewed`` entry to the chain (advisory lock, commit) and renders the template.
When the chain was verified, that verdict is recorded first as the daily job would.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import admin_url, answers, drop_database, scratch_database  # noqa: E402

from listening import audit  # noqa: E402
from listening.audit import Action  # noqa: E402
from listening.audit import log as audit_log  # noqa: E402
from listening.core import db  # noqa: E402
from listening.core.crypto import KeyRing  # noqa: E402
from listening.web.security import session_fields  # noqa: E402
from tests.support.apps import make_app, services_of  # noqa: E402

COLUMNS = ("org_id", "seq", "occurred_at", "action", "actor_id", "subject_id", "ip", "user_agent",
           "details", "prev_hash", "hash", "key_id")
KEYS = "k1:" + "A" * 43 + "="  # the app's key ring below: the chain's HMACs are made under it
RING = KeyRing.parse(KEYS)
# Roughly what a live organization writes: mostly syncs and sign-ins, a few of everything else.
ACTION_WEIGHTS = {Action.sync: 40, Action.sign_in: 15, Action.sign_out: 5, Action.check: 5,
                  Action.audit_viewed: 5, Action.link: 3, Action.refresh_failed: 3, Action.state_changed: 3,
                  Action.attach: 3, Action.detach: 1, Action.needs_attention: 2, Action.unlink: 1,
                  Action.sign_in_refused: 2, Action.link_refused: 1, Action.settings_changed: 1,
                  Action.audit_exported: 1, Action.directory_import: 1, Action.person_exported: 1,
                  Action.retention_purged: 1, Action.attach_refused: 1}
SPAN = timedelta(days=730)


def make_people(conn, org_id: int, count: int) -> list[int]:
    rows = [(org_id, f"person{n}@org{org_id}.example", f"Person {n}") for n in range(count)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO people (org_id, email, display_name, role) VALUES (%s, %s, %s, 'employee')",
                        rows)
        return [r[0] for r in cur.execute("SELECT id FROM people WHERE org_id = %s ORDER BY id", (org_id,))]


def entries(org_id: int, count: int, people: list[int], end: datetime, rng: random.Random):
    """(row tuple) for every entry of one chain, oldest first, hashes as audit.record makes them."""
    actions, weights = list(ACTION_WEIGHTS), list(ACTION_WEIGHTS.values())
    step = SPAN / count
    prev = audit.GENESIS
    start = end - SPAN
    for seq in range(1, count + 1):
        action = rng.choices(actions, weights)[0]
        system = action in (Action.sync, Action.retention_purged, Action.refresh_failed)
        entry = SimpleNamespace(
            org_id=org_id, seq=seq, occurred_at=start + step * seq, action=action.value,
            actor_id=None if system else rng.choice(people), subject_id=rng.choice(people),
            ip=None if system else f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            user_agent=None if system else "Mozilla/5.0 (bench)", details={"n": seq % 97},
            key_id=RING.current)
        entry.hash = audit.chain_hash(RING, prev, entry)
        yield (org_id, seq, entry.occurred_at, entry.action, entry.actor_id, entry.subject_id, entry.ip,
               entry.user_agent, Jsonb(entry.details), prev, entry.hash, entry.key_id)
        prev = entry.hash


def load(url: str, plan: list[tuple[int, int]], end: datetime, seed: int) -> dict[int, list[int]]:
    """plan: (organization count index, entries). Returns people ids per organization."""
    rng = random.Random(seed)
    people: dict[int, list[int]] = {}
    with psycopg.connect(url) as conn:
        for index, count in plan:
            org_id = conn.execute("INSERT INTO organizations (tenant_id, name) VALUES (%s, %s) RETURNING id",
                                  (f"bench-{index}", f"Bench {index}")).fetchone()[0]
            people[org_id] = make_people(conn, org_id, 1000 if count >= 100_000 else 50)
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in entries(org_id, count, people[org_id], end, rng):
                    copy.write_row(row)
            conn.commit()
            print(f"  organization {org_id}: {count:,} entries chained and copied in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        conn.execute("ANALYZE")
        conn.commit()
    return people


def random_filters(rng: random.Random, people: list[int], id_range: tuple[int, int], end: datetime):
    kind = rng.choice(["none", "action", "actor", "subject", "system", "dates", "action+dates",
                       "actor+action", "subject+dates", "actor+subject", "all"])
    args: dict = {}
    if "action" in kind or kind == "all":
        args["action"] = rng.choice(list(ACTION_WEIGHTS)).value
    if kind in ("actor", "actor+action", "actor+subject", "all"):
        args["actor"] = rng.choice(people)
    if kind == "system":
        args["system_actor"] = True
    if kind in ("subject", "subject+dates", "actor+subject", "all"):
        args["subject"] = rng.choice(people)
    if "dates" in kind or kind == "all":
        since = (end - timedelta(days=rng.randrange(1, 720))).date()
        args["since"], args["until"] = since, since + timedelta(days=rng.choice([0, 6, 30, 90]))
    if rng.random() < 0.7:  # most views are deeper pages: a cursor anywhere in the log
        args["before"] = rng.randrange(*id_range)
    return kind, audit_log.Filters(**args)


def measure(url: str, org_id: int, people: list[int], samples: int, end: datetime, seed: int):
    rng = random.Random(seed + 1)
    engine = db.make_engine(url)
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    tz = audit_log.zone("Europe/Paris")
    timings: dict[str, list[float]] = defaultdict(list)
    rows_seen = 0
    with sessionmaker(engine, info={"keys": RING})() as session:
        low, high = session.execute(text("SELECT min(id), max(id) FROM audit_events WHERE org_id = :o"),
                                    {"o": org_id}).one()
        for _ in range(20):  # warm the connection and the caches; not counted
            audit_log.page(session, org_id, random_filters(rng, people, (low, high + 1), end)[1], tz)
        for _ in range(samples):
            kind, filters = random_filters(rng, people, (low, high + 1), end)
            started = time.perf_counter()
            page = audit_log.page(session, org_id, filters, tz)
            timings[kind].append((time.perf_counter() - started) * 1000)
            rows_seen += len(page.entries)
            session.expunge_all()
    engine.dispose()
    return timings, rows_seen


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def print_spread(every: list[float], timings: dict[str, list[float]]) -> None:
    """Percentiles over every sample, then per kind of filter."""
    print(f"  ALL           p50 {pct(every, 50):7.2f} ms   p95 {pct(every, 95):7.2f} ms   "
          f"p99 {pct(every, 99):7.2f} ms   max {max(every):7.2f} ms")
    for kind in sorted(timings):
        ts = timings[kind]
        print(f"  {kind:<13} p50 {pct(ts, 50):7.2f} ms   p95 {pct(ts, 95):7.2f} ms   "
              f"max {max(ts):7.2f} ms   (n={len(ts)})")


def report(timings: dict[str, list[float]], rows_seen: int) -> None:
    every = [t for ts in timings.values() for t in ts]
    print(f"\naudit page query (listening.audit_log.page, 50 rows), {len(every):,} samples, "
          f"{rows_seen:,} rows returned")
    print_spread(every, timings)
    print(f"target p95 < 100 ms: {'met' if pct(every, 95) < 100 else 'NOT met'}")


def page_app(url: str, instance: str, prefix: str):
    redis_url = "redis://127.0.0.1:6379/0" if answers("127.0.0.1", 6379) else None
    return make_app(url, redis_url, prefix, None, instance, TESTING=False, secret_key="bench")


def hr_admin(app, org_id: int, verdict) -> int:
    """An HR admin of the organization (Paris time, as the query figures use); records the
    verification verdict the way the daily job does when the chain was verified."""
    from listening.core.models import Person, Role

    with services_of(app).db.unit_of_work() as session:
        admin = Person(org_id=org_id, email=f"hr.admin@org{org_id}.example", display_name="HR Admin",
                       role=Role.hr_admin, time_zone="Europe/Paris")
        session.add(admin)
        session.flush()
        if verdict is not None:
            audit.record(session, Action.audit_verified, None, None, audit_log.verdict_details(verdict),
                         org_id=org_id)
        return admin.id


def statements_per_load(app, client, path: str) -> int:
    from sqlalchemy import event

    engine, seen = services_of(app).db.engine, []

    def count(*_):
        seen.append(1)
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def measure_page(url: str, org_id: int, people: list[int], samples: int, end: datetime, seed: int,
                 verdict) -> tuple[dict[str, list[float]], list[float], Counter, int, int]:
    """Time GET /admin/audit with the same mix of filters and cursors as ``measure``."""
    rng = random.Random(seed + 2)
    prefix = f"bench-audit-{secrets.token_hex(4)}-"
    timings: dict[str, list[float]] = defaultdict(list)
    cpu: list[float] = []
    statuses: Counter = Counter()
    with tempfile.TemporaryDirectory() as instance:
        app = page_app(url, instance, prefix)
        admin_id = hr_admin(app, org_id, verdict)
        with services_of(app).db.sessionmaker() as session:
            from sqlalchemy import text

            low, high = session.execute(text("SELECT min(id), max(id) FROM audit_events WHERE org_id = :o"),
                                        {"o": org_id}).one()
        client = app.test_client()
        with client.session_transaction() as s:
            s.update(session_fields(admin_id, org_id))
        for _ in range(20):  # warm the pool, the templates and the caches; not counted
            filters = random_filters(rng, people, (low, high + 1), end)[1]
            client.get("/admin/audit", query_string=filters.query_args())
        statements = statements_per_load(app, client, "/admin/audit")
        for _ in range(samples):
            kind, filters = random_filters(rng, people, (low, high + 1), end)
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get("/admin/audit", query_string=filters.query_args())
            timings[kind].append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            statuses[response.status_code] += 1
        services_of(app).db.dispose()
        with psycopg.connect(url) as conn:
            appended = conn.execute("SELECT count(*) FROM audit_events WHERE org_id = %s AND action = %s "
                                    "AND actor_id = %s", (org_id, Action.audit_viewed.value, admin_id)).fetchone()[0]
        if services_of(app).jobs.opened:  # the page never queues: usually nothing to clean
            redis = services_of(app).jobs.redis
            keys = list(redis.scan_iter(f"*{prefix}*", count=1000))
            if keys:
                redis.delete(*keys)
    return timings, cpu, statuses, statements, appended


def report_page(timings: dict[str, list[float]], cpu: list[float], statuses: Counter, statements: int,
                people: int) -> None:
    every = [t for ts in timings.values() for t in ts]
    print(f"\nwhole audit page (GET /admin/audit through the Flask app: filters, query, names, "
          f"{people:,}-person directory, last verdict, audit:viewed append, template), "
          f"{len(every):,} samples, {statements} SQL statements per unfiltered load")
    print_spread(every, timings)
    print(f"  this process's CPU time per page: p50 {pct(cpu, 50):7.2f} ms   p95 {pct(cpu, 95):7.2f} ms")
    print(f"  status codes: {', '.join(f'{code} x{n:,}' for code, n in sorted(statuses.items()))}")
    if set(statuses) != {200}:
        print(f"WARNING: not every page answered 200: {dict(statuses)}")
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"target p95 < 100 ms (whole page): {'met' if pct(every, 95) < 100 else 'NOT met'}")


def verify_chain(url: str, org_id: int):
    from sqlalchemy.orm import sessionmaker

    engine = db.make_engine(url)
    started = time.perf_counter()
    with sessionmaker(engine, info={"keys": RING})() as session:
        verdict = audit.verify(session, org_id)
    engine.dispose()
    print(f"audit.verify: whole={verdict.whole} checked={verdict.checked:,} "
          f"in {time.perf_counter() - started:.1f} s" + ("" if verdict.whole else f" ({verdict.problem})"))
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the big organization")
    parser.add_argument("--samples", type=int, default=2000, help="page queries to time")
    parser.add_argument("--page-samples", type=int, default=300,
                        help="whole-page loads (GET /admin/audit) to time; 0 skips them")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-verify", action="store_true", help="do not verify the big chain")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    admin, server = admin_url()
    name, url = scratch_database(admin, "audit")
    end = datetime.now(UTC)
    print(f"scratch database {name}; loading {args.entries:,} entries (+2 small organizations)", flush=True)
    try:
        people = load(url, [(0, args.entries), (1, 5000), (2, 5000)], end, args.seed)
        big = min(people)
        verdict = None if args.skip_verify else verify_chain(url, big)
        timings, rows_seen = measure(url, big, people[big], args.samples, end, args.seed)
        report(timings, rows_seen)
        if args.page_samples > 0:
            page_timings, cpu, statuses, statements, appended = measure_page(
                url, big, people[big], args.page_samples, end, args.seed, verdict)
            report_page(page_timings, cpu, statuses, statements, len(people[big]) + 1)
            print(f"  ({appended:,} audit:viewed entries appended to the chain by the page loads; "
                  f"verdict shown: {'yes' if verdict is not None else 'none (--skip-verify)'})")
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            drop_database(admin, name)
        del server


if __name__ == "__main__":
    main()
