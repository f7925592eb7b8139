"""Change notifications benchmark: how fresh, how cheap, how big (figures only, no assertions).

    python bench/notify_bench.py                               # the three parts at the issue's sizes
    python bench/notify_bench.py --part latency --changes 50
    python bench/notify_bench.py --part day --mailboxes 20
    python bench/notify_bench.py --part scale --mailboxes 10000 --events 50 --notifications 50000

Each part runs the real processes: the emulator (python -m emulator), the web app under gunicorn
with PUBLIC_URL on its loopback address (the emulator posts to it), RQ workers with the
scheduler, a scratch PostgreSQL database (BENCH_DATABASE_ADMIN_URL, default 127.0.0.1:5432)
dropped at the end, and Redis (REDIS_URL, default 127.0.0.1:6379) under a key prefix of its own.
Calendars are linked and subscribed through the app's own use cases from this process.

- latency: a manager's calendar gets a new weekly meeting with one report through the emulator's
  control API; the time until the 1-on-1s page (GET through gunicorn, polled every 25 ms) shows
  it as a candidate. Target: p95 under 5 s with one worker.
- day: N unchanged mailboxes through one simulated day on the emulator's clock (96 steps of 15
  minutes; stored token expiries are aged with it): the reauthorization challenges Graph sends and
  what answering them costs; then one safety-net sync and one renewal each, as measured requests.
  Target: at most 3 a day.
- scale: N mailboxes of E events each; the emulator changes every one of them
  (notifications / N changes each) spread over --seconds; every POST's answer time at the app
  (gunicorn's access log), syncs per changed mailbox (the audit log), and the counts at both ends.
  Targets: every POST 202 within 3 s (p99), one sync per changed mailbox, none lost.
"""
from __future__ import annotations

import argparse
import collections
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch import admin_url, drop_database, scratch_database  # noqa: E402

from listening import services as wiring  # noqa: E402
from listening import sync  # noqa: E402
from listening.core import config  # noqa: E402
from listening.core.models import (  # noqa: E402
    AuditEvent,
    Connection,
    ConnectionState,
    GraphSubscription,
    Organization,
    Person,
    Role,
)
from listening.notifications import subscriptions  # noqa: E402
from listening.web.security import session_fields  # noqa: E402

BIN = Path(sys.executable).parent
KEYS = "bench:" + "B" * 43 + "="


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.node()}"


# --- the processes ---------------------------------------------------------------------------------
class Stack:
    """Emulator, gunicorn web app, RQ workers; a scratch database and a Redis key prefix."""

    def __init__(self, seed_args: list[str], workers: int, web_workers: int, threads: int,
                 debounce: float | None = None, quiet_emulator: bool = True):
        debounce = debounce if debounce is not None else float(os.environ.get("NOTIFY_DEBOUNCE", "1"))
        self.tmp = Path(tempfile.mkdtemp(prefix="notify-bench-"))
        self.admin, self.embedded = admin_url()
        self.db_name, self.database_url = scratch_database(self.admin, "notify")
        self.redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.prefix = f"bench-{secrets.token_hex(4)}-"
        self.emu_port, self.web_port = free_port(), free_port()
        self.emu_url, self.base = f"http://127.0.0.1:{self.emu_port}", f"http://127.0.0.1:{self.web_port}"
        self.children: list[subprocess.Popen] = []
        self.env = dict(os.environ, DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                        QUEUE_PREFIX=self.prefix, MS_AUTHORITY=self.emu_url, GRAPH_URL=self.emu_url + "/v1.0",
                        LISTENING_KEYS=KEYS, SECRET_KEY="notify-bench", PUBLIC_URL=self.base,
                        LISTENING_INSTANCE=str(self.tmp), NOTIFY_DEBOUNCE=str(debounce), LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"), PYTHONUNBUFFERED="1")
        self.access_log = self.tmp / "access.log"
        try:
            self._start(seed_args, workers, web_workers, threads, quiet_emulator)
            self.services = wiring.build(config.from_env(self.env))
        except BaseException:
            self.close()
            raise

    def _start(self, seed_args, workers, web_workers, threads, quiet_emulator) -> None:
        log = open(self.tmp / "emulator.log", "wb") if quiet_emulator else None  # noqa: SIM115
        self._spawn([sys.executable, "-m", "emulator", "--port", str(self.emu_port), "--control", *seed_args],
                    stdout=log, stderr=log)
        self._wait(self.emu_url + "/_emulator/tenants", 600)
        web_log = open(self.tmp / "web.log", "wb")  # noqa: SIM115
        self._spawn([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(web_workers),
                     "--threads", str(threads), "--access-logfile", str(self.access_log),
                     "--access-logformat", "%(m)s %(U)s %(s)s %(D)s %(t)s", "wsgi:app"], stdout=web_log, stderr=web_log)
        self._wait(self.base + "/healthz", 60)
        for n in range(workers):
            worker_log = open(self.tmp / f"worker{n}.log", "wb")  # noqa: SIM115
            self._spawn([str(BIN / "rq"), "worker", "--with-scheduler", "--worker-class", "rq.SimpleWorker",
                         "-c", "jobs.rq_settings", "--logging_level", os.environ.get("BENCH_LOG_LEVEL", "WARNING")],
                        stdout=worker_log, stderr=worker_log)

    def _spawn(self, args, **kw) -> None:
        self.children.append(subprocess.Popen(args, cwd=ROOT, env=self.env, start_new_session=True, **kw))

    def _wait(self, url: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(c.poll() is not None for c in self.children):
                raise SystemExit(f"a process stopped while starting; logs in {self.tmp}")
            try:
                if requests.get(url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{url} did not answer within {seconds:g} s")

    # --- the emulator's control API ------------------------------------------------------------
    def emu(self, method: str, path: str, json=None):
        response = requests.request(method, self.emu_url + "/_emulator" + path, json=json, timeout=600)
        response.raise_for_status()
        return response.json()

    # --- waiting for the workers -----------------------------------------------------------------
    def idle(self) -> bool:
        from rq.registry import ScheduledJobRegistry, StartedJobRegistry

        for name in self.services.jobs.names():
            q = self.services.jobs.queue(name.removeprefix(self.prefix))
            if q.count or StartedJobRegistry(queue=q).count or ScheduledJobRegistry(queue=q).count:
                return False
        return True

    def drain(self, timeout: float = 3600) -> float:
        started = time.monotonic()
        quiet = 0
        while time.monotonic() - started < timeout:
            quiet = quiet + 1 if self.idle() else 0
            if quiet >= 3:
                return time.monotonic() - started
            time.sleep(0.2)
        raise SystemExit("the workers did not finish in time")

    def close(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if hasattr(self, "services"):
            self.services.db.dispose()
            redis = self.services.jobs.redis
            keys = list(redis.scan_iter(f"*{self.prefix}*", count=5000))
            for i in range(0, len(keys), 5000):
                redis.delete(*keys[i:i + 5000])
        drop_database(self.admin, self.db_name)


# --- arranging ---------------------------------------------------------------------------------
def directory(stack: Stack, users: list[dict]) -> tuple[int, dict[str, int]]:
    """The emulator's people of one tenant in a fresh organization: (org id, email -> person id)."""
    tenant = users[0]["tenant"]
    mine = [u for u in users if u["tenant"] == tenant]
    with stack.services.db.unit_of_work() as session:
        org = Organization(tenant_id=tenant, name="Bench")
        session.add(org)
        session.flush()
        people = {u["email"]: Person(org_id=org.id, email=u["email"], oid=u["oid"], display_name=u["name"],
                                     role=Role.manager if u["directReports"] else Role.employee, time_zone="UTC")
                  for u in mine}
        session.add_all(people.values())
        session.flush()
        for u in mine:
            if u["manager"] in people:
                people[u["email"]].manager_id = people[u["manager"]].id
        return org.id, {email: p.id for email, p in people.items()}


def link(stack: Stack, org_id: int, people: dict[str, int], users: list[dict], emails: list[str],
         threads: int = 8) -> dict[str, int]:
    """Linked connections with tokens minted by the emulator: email -> connection id."""
    by_email = {u["email"]: u for u in users}

    def mint(email):
        return email, stack.emu("POST", "/tokens", {"user": email, "scopes": ["User.Read", "Calendars.Read",
                                                                             "offline_access"]})
    with ThreadPoolExecutor(threads) as pool:
        tokens = dict(pool.map(mint, emails))
    out = {}
    with stack.services.db.unit_of_work() as session:
        for email in emails:
            user = by_email[email]
            connection = Connection(org_id=org_id, person_id=people[email], state=ConnectionState.linked,
                                    ms_tenant_id=user["tenant"], ms_oid=user["oid"], account_email=email,
                                    linked_at=datetime.now(UTC))
            session.add(connection)
            session.flush()
            stack.services.tokens.save(session, connection, tokens[email])
            out[email] = connection.id
    return out


def subscribe_and_sync(stack: Stack, connection_ids: list[int], threads: int = 8, presync: bool = True) -> int:
    """Subscribe (and first sync) every connection; returns how many creations had to be tried
    again, as the sweep would (a validation POST can meet a keep-alive connection the web server
    just closed)."""
    retried = 0

    def one(cid):
        nonlocal retried
        for attempt in range(3):
            upkeep = subscriptions.keep(stack.services, cid)
            if upkeep.action == "created":
                break
            retried += 1
        else:
            raise SystemExit(f"connection {cid}: subscription {upkeep.action} ({upkeep.detail})")
        if presync:
            report = sync.run(stack.services, cid, trigger="bench")
            if report.outcome.value != "ok":
                raise SystemExit(f"connection {cid}: first sync {report.outcome.value} ({report.detail})")
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, connection_ids))
    return retried


def page_cookie(person_id: int, org_id: int) -> str:
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask("bench")
    app.secret_key = "notify-bench"
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps(session_fields(person_id, org_id))


# --- latency -----------------------------------------------------------------------------------
def latency(args) -> None:
    stack = Stack(["--seed", "demo"], workers=1, web_workers=2, threads=4, debounce=args.debounce)
    try:
        users = stack.emu("GET", "/users")
        org_id, people = directory(stack, [u for u in users if u["email"].endswith("@contoso.com")])
        manager = next(u for u in users if u["email"].endswith("@contoso.com") and len(u["directReports"]) >= 2)
        [cid] = link(stack, org_id, people, users, [manager["email"]]).values()
        subscribe_and_sync(stack, [cid])
        http = requests.Session()
        http.cookies.set("session", page_cookie(people[manager["email"]], org_id))
        page = http.get(stack.base + "/one-on-ones", timeout=10)
        assert "Kept up to date as it changes." in page.text, page.text[:500]
        report = manager["directReports"][0]
        base_day = datetime.now(UTC).replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(days=1)
        seconds, loads = [], []
        for n in range(args.changes):
            subject = f"Bench weekly {n} {secrets.token_hex(3)}"
            start = base_day + timedelta(days=n % 5, minutes=15 * (n // 5))
            recurrence = {"pattern": {"type": "weekly", "interval": 1,
                                      "daysOfWeek": [start.strftime("%A").lower()]},
                          "range": {"type": "noEnd", "startDate": start.date().isoformat()}}
            began = time.monotonic()
            stack.emu("POST", "/calendar", {"action": "create_meeting", "organizer": manager["email"],
                                            "attendees": [report], "subject": subject, "start": start.isoformat(),
                                            "end": (start + timedelta(minutes=30)).isoformat(),
                                            "recurrence": recurrence})
            while True:
                t = time.monotonic()
                body = http.get(stack.base + "/one-on-ones", timeout=10).text
                loads.append(time.monotonic() - t)
                if subject in body:
                    break
                if time.monotonic() - began > 60:
                    _explain(stack, org_id, body)
                    raise SystemExit(f"change {n} never showed")
                time.sleep(0.025)
            seconds.append(time.monotonic() - began)
        print(f"latency: change in the emulator until the 1-on-1s page shows it, {len(seconds)} changes, "
              f"1 worker, debounce {stack.services.settings.notify_debounce:g} s")
        print(f"  p50 {statistics.median(seconds):.2f} s   p95 {pct(seconds, 95):.2f} s   "
              f"min {min(seconds):.2f} s   max {max(seconds):.2f} s   (target p95 < 5 s)")
        print(f"  page load while polling: p50 {statistics.median(loads) * 1000:.0f} ms, "
              f"p95 {pct(loads, 95) * 1000:.0f} ms")
    finally:
        stack.close()


def _explain(stack: Stack, org_id: int, page: str) -> None:
    """For a change that never showed: the syncs that ran, what each end counted, what is waiting."""
    import re

    from rq.registry import ScheduledJobRegistry
    from sqlalchemy import select

    from listening.notifications import intake

    with stack.services.db.sessionmaker() as session:
        syncs = [d for (d,) in session.execute(select(AuditEvent.details).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "calendar:sync"))]
    queue = stack.services.jobs.queue("sync")
    print(f"  syncs: {[(d['trigger'], d['inserted']) for d in syncs]}", file=sys.stderr)
    print(f"  emulator: {stack.emu('GET', '/notifications')['summary']}", file=sys.stderr)
    print(f"  app: {intake.counts(stack.services)}; queued {queue.count}, scheduled "
          f"{ScheduledJobRegistry(queue=queue).count}", file=sys.stderr)
    print(f"  the page shows: {sorted(set(re.findall(r'Bench weekly [0-9]+', page)))}", file=sys.stderr)


# --- a day of an unchanged mailbox -------------------------------------------------------------
def day(args) -> None:
    stack = Stack(["--seed", "scale", "--people", str(args.mailboxes), "--events", str(args.events),
                   "--token-ttl", str(args.token_ttl)],
                  workers=1, web_workers=2, threads=4, debounce=args.debounce)
    try:
        users = stack.emu("GET", "/users")
        org_id, people = directory(stack, users)
        linked = link(stack, org_id, people, users, [u["email"] for u in users])
        n = len(linked)
        subscribe_and_sync(stack, list(linked.values()))
        stack.emu("POST", "/reset", {"world": False, "tokens": False})  # the day's counts only
        for step in range(args.hours * 4):
            stack.emu("POST", "/clock", {"advance_seconds": 900})
            _age_tokens(stack, 900)  # the app's clock moves with the emulator's
            _settle(stack)
            stack.drain()
        stats, summary = stack.emu("GET", "/stats"), stack.emu("GET", "/notifications")["summary"]
        per_day = 24 / args.hours
        challenges = summary["lifecycle_sent"] / n * per_day
        reauth = sum(stats["by_mailbox"].values()) / n * per_day
        # The safety net: one scheduled re-read a day, measured.
        stack.emu("POST", "/reset", {"world": False, "tokens": False})
        for cid in linked.values():
            sync.run(stack.services, cid, trigger="bench")
        safety = sum(stack.emu("GET", "/stats")["by_mailbox"].values()) / n
        # One renewal each, measured, and how often it comes.
        renewal = _renewals(stack, list(linked.values())) / n
        every = (subscriptions.LIFETIME - subscriptions.RENEW_BEFORE).total_seconds() / 86400
        total = reauth + safety + renewal / every
        print(f"day: {n} unchanged mailboxes of {args.events} events, {args.hours} h on the emulator clock "
              f"(its access tokens live {args.token_ttl / 3600:g} h; Microsoft's 60-90 minutes)")
        print(f"  reauthorizationRequired challenges: {challenges:.1f} a mailbox a day; Graph requests answering "
              f"them: {reauth:.1f} ({dict(stats['by_endpoint'])}, "
              f"{stats['by_status'].get('401', 0)} of them 401 first)")
        print(f"  safety-net re-read (every 24 h): {safety:.1f} request(s); renewal: {renewal:.1f} request(s) "
              f"every {every:.1f} days")
        print(f"  Graph requests per unchanged mailbox per day: {total:.1f} "
              f"(target <= 3; polling hourly costs 24)")
    finally:
        stack.close()


def _age_tokens(stack: Stack, seconds: float) -> None:
    """Stored access-token expiries move with the emulator's clock, so the app judges a token's
    age as it would have in real time (nothing else of the app depends on the time here)."""
    from sqlalchemy import text

    with stack.services.db.engine.begin() as conn:
        conn.execute(text("UPDATE connections SET access_expires_at = access_expires_at - make_interval(secs => :s)"),
                     {"s": seconds})


def _settle(stack: Stack, quiet: float = 0.3) -> None:
    """Until the emulator has nothing in flight for a moment."""
    calm_since = None
    while True:
        summary = stack.emu("GET", "/notifications")["summary"]
        busy = summary["in_flight"] or summary["waiting"]
        now = time.monotonic()
        if busy:
            calm_since = None
        elif calm_since is None:
            calm_since = now
        elif now - calm_since >= quiet:
            return
        time.sleep(0.05)


def _renewals(stack: Stack, connection_ids: list[int]) -> int:
    with stack.services.db.sessionmaker() as session:
        expires = min(session.query(GraphSubscription.expires_at).all())[0]
    soon = expires - subscriptions.RENEW_BEFORE + timedelta(minutes=1)
    stack.emu("POST", "/reset", {"world": False, "tokens": False})
    ahead = (soon - datetime.now(UTC)).total_seconds()
    stack.emu("POST", "/clock", {"advance_seconds": ahead})
    _age_tokens(stack, ahead)
    for cid in connection_ids:
        upkeep = subscriptions.keep(stack.services, cid, now=soon)
        if upkeep.action != "renewed":
            raise SystemExit(f"connection {cid}: {upkeep.action} instead of renewed ({upkeep.detail})")
    # Only the PATCHes: moving the clock days ahead also brings reauthorization challenges.
    return stack.emu("GET", "/stats")["by_endpoint"].get("PATCH /v1.0/subscriptions/<sub_id>", 0)


# --- scale -------------------------------------------------------------------------------------
def scale(args) -> None:
    started = time.monotonic()
    stack = Stack(["--seed", "scale", "--people", str(args.mailboxes), "--events", str(args.events)],
                  workers=args.workers, web_workers=args.web_workers, threads=args.threads, debounce=args.debounce)
    try:
        users = stack.emu("GET", "/users")
        org_id, people = directory(stack, users)
        linked = link(stack, org_id, people, users, [u["email"] for u in users], threads=16)
        retried = subscribe_and_sync(stack, list(linked.values()), threads=args.setup_threads,
                                     presync=not args.no_presync)
        setup = time.monotonic() - started
        stack.emu("POST", "/reset", {"world": False, "tokens": False})
        access_before = _access_lines(stack)
        changes = max(1, args.notifications // len(linked))
        emails = list(linked)
        slices = max(1, int(args.seconds))
        burst_started = datetime.now(UTC)
        t0 = time.monotonic()
        for i in range(slices):
            part = emails[i * len(emails) // slices:(i + 1) * len(emails) // slices]
            if part:
                stack.emu("POST", "/notify", {"mailboxes": part, "changes_per_mailbox": changes,
                                              "concurrency": args.concurrency})
            time.sleep(max(0.0, t0 + (i + 1) * args.seconds / slices - time.monotonic()))
        sent_in = time.monotonic() - t0
        _settle(stack, quiet=1.0)
        delivered_in = time.monotonic() - t0
        drained = stack.drain()
        summary = stack.emu("GET", "/notifications")["summary"]
        from listening.notifications import intake

        counts = intake.counts(stack.services)
        answers = _answers(stack, access_before)
        syncs = _syncs_per_connection(stack, org_id, burst_started)
        print(f"scale: {len(linked)} mailboxes x {args.events} events; {changes} changes each "
              f"({summary['queued']} notifications) over {args.seconds:g} s; gunicorn {args.web_workers} x "
              f"{args.threads} threads, {args.workers} RQ worker(s); setup {setup:.0f} s "
              f"({retried} subscription creations tried again)")
        print(f"  emulator: {summary['queued']} queued, {summary['delivered']} delivered in {summary['posts']} POSTs "
              f"({summary['failed_posts']} failed), {summary['dropped']} dropped, {summary['lost']} lost; "
              f"all delivered {delivered_in:.1f} s after the first change (changes made in {sent_in:.1f} s)")
        print(f"  app: {counts.get('accepted', 0)} accepted, {counts.get('replayed', 0)} replays, "
              f"{counts.get('refused', 0)} refused")
        if answers:
            codes = collections.Counter(code for code, _ in answers)
            ms = [us / 1000 for _, us in answers]
            print(f"  POST /graph/notifications answers: {dict(codes)}; p50 {statistics.median(ms):.1f} ms, "
                  f"p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms, over 3 s: {sum(m > 3000 for m in ms)}")
        spread = collections.Counter(syncs.values())
        missing = len(linked) - len(syncs)
        print(f"  syncs per changed mailbox: {dict(sorted(spread.items()))} "
              f"({missing} mailboxes without a notified sync); queue drained {drained:.0f} s after delivery")
    finally:
        stack.close()


def _access_lines(stack: Stack) -> int:
    try:
        return len(stack.access_log.read_text().splitlines())
    except FileNotFoundError:
        return 0


def _answers(stack: Stack, skip: int) -> list[tuple[str, int]]:
    out = []
    for line in stack.access_log.read_text().splitlines()[skip:]:
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "POST" and parts[1] == "/graph/notifications":
            out.append((parts[2], int(parts[3])))
    return out


def _syncs_per_connection(stack: Stack, org_id: int, since: datetime) -> dict[int, int]:
    from sqlalchemy import select

    with stack.services.db.sessionmaker() as session:
        rows = session.execute(select(AuditEvent.details).where(
            AuditEvent.org_id == org_id, AuditEvent.action == "calendar:sync", AuditEvent.occurred_at >= since))
        counts = collections.Counter(d["connection_id"] for (d,) in rows if d.get("trigger") == "notification")
    return dict(counts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("latency", "day", "scale", "all"), default="all")
    p.add_argument("--changes", type=int, default=50, help="latency: changes measured")
    p.add_argument("--mailboxes", type=int, help="day: 20; scale: 10000")
    p.add_argument("--events", type=int, default=50, help="events per mailbox (day, scale)")
    p.add_argument("--notifications", type=int, default=50_000, help="scale: notifications in all")
    p.add_argument("--seconds", type=float, default=60.0, help="scale: over how long the changes are made")
    p.add_argument("--concurrency", type=int, default=16, help="scale: the emulator's POSTs in flight")
    p.add_argument("--workers", type=int, default=2, help="scale: RQ workers")
    p.add_argument("--web-workers", type=int, default=2, help="scale: gunicorn workers")
    p.add_argument("--threads", type=int, default=8, help="scale: threads per gunicorn worker")
    p.add_argument("--setup-threads", type=int, default=8)
    p.add_argument("--debounce", type=float, help="NOTIFY_DEBOUNCE seconds (default 1)")
    p.add_argument("--hours", type=int, default=24, help="day: hours simulated (figures are per day)")
    p.add_argument("--token-ttl", type=int, default=3600, help="day: the emulator's access-token lifetime, s")
    p.add_argument("--no-presync", action="store_true", help="scale: skip the first sync of every mailbox")
    args = p.parse_args()
    print(f"machine: {machine()}")
    if args.part in ("latency", "all"):
        latency(args)
    if args.part in ("day", "all"):
        day(replace_mailboxes(args, 20))
    if args.part in ("scale", "all"):
        scale(replace_mailboxes(args, 10_000))


def replace_mailboxes(args, default: int):
    copy = argparse.Namespace(**vars(args))
    copy.mailboxes = args.mailboxes or default
    return copy


if __name__ == "__main__":
    main()
