"""API and webhook benchmark: the list route at 10,000 attached 1-on-1s, how soon an event is
delivered after its cause with one worker, and 1,000 occurrence.ended to a slow receiver.

    python bench/api_bench.py                       # 10,000 1-on-1s, 300 samples, 100 events, 1,000 ended
    python bench/api_bench.py --pairs 500 --samples 20 --events 5 --ended 40   # a quick look

Prints figures; asserts nothing (targets: list p95 < 50 ms; delivered p95 < 2 s after the cause;
1,000 occurrence.ended delivered without loss to a receiver taking 500 ms per post).

1. A scratch PostgreSQL database (BENCH_DATABASE_ADMIN_URL, default 127.0.0.1:5432, else
   embedded) gets 2,000 managers with 5 reports each, a linked connection per manager, and a
   weekly 1-on-1 per pair with 12 stored occurrences (120,000 calendar items). Their stored
   copies are placeholders: the API reads only plain columns. GET /api/v1/one-on-ones goes
   through the whole Flask app (key, rate limit, query, audit entry, commit).
2. One RQ worker (the Procfile's command) and a Standard Webhooks receiver on loopback: each
   cause (a 1-on-1 flagged as needing attention, committed as a re-check does) is timed from
   its commit to its arrival at the receiver.
3. 1,000 attached occurrences end within the last minute; the sweep (queued as rq cron does)
   records occurrence.ended for each and the same worker delivers them to a receiver that
   takes 500 ms per post: the time until all are delivered, and that none is lost or repeated.
Redis: REDIS_URL, default 127.0.0.1:6379 (keys under a bench prefix, removed at the end).
"""
from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
from sqlalchemy import select  # noqa: E402
from scratch import admin_url, drop_database, scratch_database  # noqa: E402

from listening import create_app  # noqa: E402
from listening.api import keys  # noqa: E402
from listening.core import queue  # noqa: E402
from listening.core.models import DeliveryStatus, OneOnOne, OneOnOneStatus, WebhookDelivery  # noqa: E402
from listening.one_on_ones import announce  # noqa: E402
from listening.webhooks import endpoints  # noqa: E402
from tests.support.apps import services_of  # noqa: E402
from tests.support.webhook_receiver import Receiver  # noqa: E402

REPORTS_PER_MANAGER = 5
OCCURRENCES = 12


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def spread(label, seconds, unit=1000, suffix="ms"):
    values = [s * unit for s in seconds]
    print(f"{label}: n={len(values)} p50 {pct(values, 50):.1f} {suffix}, p95 {pct(values, 95):.1f} {suffix}, "
          f"p99 {pct(values, 99):.1f} {suffix}, min {min(values):.1f}, max {max(values):.1f}, "
          f"stdev {statistics.pstdev(values):.1f}")


def _copy(conn, table: str, columns: tuple[str, ...], rows) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(url: str, pairs: int, now: datetime, tenant: str, first_person: int, ended_within: timedelta | None):
    """An organization with ``pairs`` attached weekly 1-on-1s; returns its id. With
    ``ended_within`` each 1-on-1 has one occurrence that ended within that span before ``now``."""
    managers = max(1, pairs // REPORTS_PER_MANAGER)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=False) as conn:
        org_id = conn.execute("INSERT INTO organizations (tenant_id, name) VALUES (%s, %s) RETURNING id",
                              (tenant, "Bench " + tenant[:8])).fetchone()[0]
        people, connections, pairs_rows, items = [], [], [], []
        pid = first_person
        for m in range(managers):
            manager = pid
            people.append((manager, org_id, f"m{manager}@bench.example", f"Manager {manager}", "manager", None))
            connections.append((manager, org_id, manager, "linked"))
            pid += 1
            for _ in range(REPORTS_PER_MANAGER):
                if len(pairs_rows) == pairs:
                    break
                people.append((pid, org_id, f"r{pid}@bench.example", f"Report {pid}", "employee", manager))
                series = f"S-{pid}"
                pairs_rows.append((pid, org_id, manager, pid, series, "ok", now - timedelta(days=60)))
                first = now - timedelta(weeks=4, hours=pid % 9)
                for i in range(1 if ended_within else OCCURRENCES):
                    start = (now - ended_within * (pid % 997) / 997 - timedelta(minutes=30)
                             if ended_within else first + timedelta(weeks=i))
                    items.append((org_id, manager, f"{series}-occ-{i}", series, "occurrence", start,
                                  start + timedelta(minutes=30), False, b"placeholder"))
                pid += 1
        _copy(conn, "people", ("id", "org_id", "email", "display_name", "role", "manager_id"), people)
        _copy(conn, "connections", ("id", "org_id", "person_id", "state"), connections)
        _copy(conn, "one_on_ones", ("id", "org_id", "manager_id", "report_id", "series_id", "status",
                                    "attached_at"), pairs_rows)
        _copy(conn, "calendar_items", ("org_id", "connection_id", "provider_event_id", "series_id",
                                       "event_type", "start_utc", "end_utc", "is_cancelled", "provider_data"),
              items)
        for table in ("people", "connections", "one_on_ones"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.execute("ANALYZE")
    return org_id, pid


def bench_list(app, org_id: int, samples: int) -> None:
    with services_of(app).db.unit_of_work() as session:
        secret = keys.create(session, org_id, "bench", ["one_on_ones:read"], None, datetime.now(UTC)).secret
    client = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    client.get("/api/v1/one-on-ones", headers=auth)  # warm up
    for label, path in (("first page, 50", "/api/v1/one-on-ones"),
                        ("first page, 200", "/api/v1/one-on-ones?limit=200"),
                        ("status=needs_attention", "/api/v1/one-on-ones?status=needs_attention")):
        times, codes = [], {}
        for _ in range(samples):
            started = time.perf_counter()
            response = client.get(path, headers=auth)
            times.append(time.perf_counter() - started)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
        spread(f"GET /api/v1/one-on-ones ({label})", times)
        print(f"  status codes: {codes}")
    body = client.get("/api/v1/one-on-ones?limit=200", headers=auth)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get("/api/v1/one-on-ones?limit=200", headers={**auth, "If-None-Match": body.headers["ETag"]})
        times.append(time.perf_counter() - started)
    spread("GET /api/v1/one-on-ones (limit 200, If-None-Match: 304)", times)
    walked, cursor, started = 0, None, time.perf_counter()
    while True:
        page = client.get("/api/v1/one-on-ones?limit=200" + (f"&cursor={cursor}" if cursor else ""),
                          headers=auth).get_json()
        walked += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    print(f"walking every page of 200: {walked} 1-on-1s in {time.perf_counter() - started:.2f} s")


def start_worker(app, instance: Path) -> subprocess.Popen:
    s = services_of(app).settings
    env = dict(os.environ, DATABASE_URL=s.database_url, REDIS_URL=s.redis_url, QUEUE_PREFIX=s.queue_prefix,
               LISTENING_KEYS=s.keys, LISTENING_INSTANCE=str(instance), SECRET_KEY="bench", LOG_LEVEL="WARNING")
    return subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
                             "rq.SimpleWorker", "-c", "jobs.rq_settings"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def add_endpoint(app, org_id: int, receiver: Receiver, events) -> None:
    with services_of(app).db.unit_of_work() as session:
        # Made a day ago: the sweep announces only what ended after an endpoint existed.
        made = endpoints.add(session, services_of(app).keys, org_id, receiver.url, events, None,
                             datetime.now(UTC) - timedelta(days=1), production=False)
    receiver.secret = made.secret


def bench_latency(app, org_id: int, events: int) -> None:
    receiver = Receiver()
    try:
        add_endpoint(app, org_id, receiver, ["one_on_one.needs_attention"])
        with services_of(app).db.unit_of_work() as session:
            ids = list(session.scalars(select(OneOnOne.id).where(OneOnOne.org_id == org_id)
                                       .order_by(OneOnOne.id).limit(events)))
        causes = {}
        for one_on_one_id in ids:
            with services_of(app).db.unit_of_work() as session:
                row = session.get(OneOnOne, one_on_one_id)
                row.status = OneOnOneStatus.needs_attention
                session.flush()
                announce.changed(session, announce.NEEDS_ATTENTION, [row], datetime.now(UTC))
            causes[one_on_one_id] = time.monotonic()  # just after the commit
            time.sleep(0.2)
        got = receiver.wait(len(ids), timeout=120)
        delays = [r["at"] - causes[r["payload"]["data"]["id"]] for r in got]
        spread("event delivered after its cause's commit (one worker)", delays)
        print(f"  all {len(got)} signatures verified: {all(r['verified'] for r in got)}")
    finally:
        receiver.close()


def bench_ended(app, org_id: int, count: int, slow: float) -> None:
    receiver = Receiver()
    receiver.delay = slow
    try:
        add_endpoint(app, org_id, receiver, ["occurrence.ended"])
        started = time.monotonic()
        services_of(app).jobs.enqueue_once(queue.QUEUE_MAINTENANCE, "jobs.webhooks.sweep", job_id="bench-sweep",
                                           job_timeout=120)
        receiver.wait(count, timeout=1800)
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        got = receiver.at()
        with services_of(app).db.unit_of_work() as session:
            delivered = session.query(WebhookDelivery).filter(
                WebhookDelivery.org_id == org_id, WebhookDelivery.status == DeliveryStatus.delivered).count()
        ids = [r["id"] for r in got]
        print(f"{count} occurrence.ended to a receiver taking {slow * 1000:.0f} ms per post: all received "
              f"{elapsed:.1f} s after the sweep was queued ({len(ids) / elapsed:.1f} per s); received {len(ids)}, "
              f"distinct webhook-ids {len(set(ids))}, marked delivered {delivered}, signatures verified "
              f"{sum(1 for r in got if r['verified'])}")
    finally:
        receiver.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--ended", type=int, default=1000)
    parser.add_argument("--slow-ms", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    admin, embedded = admin_url()
    name, url = scratch_database(admin, "api")
    prefix = f"bench-{secrets.token_hex(3)}-"
    instance = Path(tempfile.mkdtemp())
    app = create_app({"database_url": url, "redis_url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                      "queue_prefix": prefix, "instance_path": instance, "secret_key": "bench",
                      "keys": "k1:" + "A" * 43 + "=", "api_rate_limit": "1000000/minute"})
    worker = None
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        org_id, next_id = seed(url, args.pairs, now, "10000000-0000-0000-0000-000000000001", 1, None)
        ended_org, _ = seed(url, args.ended, now, "10000000-0000-0000-0000-000000000002", next_id,
                            timedelta(seconds=55))
        print(f"seeded {args.pairs} attached 1-on-1s ({args.pairs * OCCURRENCES} stored occurrences) and "
              f"{args.ended} more with an occurrence that ended in the last minute, in "
              f"{time.perf_counter() - started:.1f} s")
        bench_list(app, org_id, args.samples)
        worker = start_worker(app, instance / "worker")
        time.sleep(2.0)  # the worker builds its app
        bench_latency(app, org_id, args.events)
        bench_ended(app, ended_org, args.ended, args.slow_ms / 1000)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        conn = services_of(app).jobs.redis
        for key in conn.scan_iter(f"*{prefix}*", count=1000):
            conn.delete(key)
        services_of(app).db.dispose()
        drop_database(admin, name)
        if embedded is not None:
            embedded.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
