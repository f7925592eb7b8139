"""Faults of Listening's own parts, with the Procfile's real worker processes and a Redis and a
PostgreSQL that each test starts, stops and restarts itself: Redis restarted under busy workers,
a worker killed or stopped in the middle of a sync, PostgreSQL gone for 20 s.

Each test prints what it counted before and after (run with -s to see them). Short intervals
come through the same settings production uses (JOB_HEARTBEAT_TTL, the worker's flags).
"""
from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import JobStatus
from sqlalchemy import select

from jobs import runtime
from listening import sync
from listening.core.models import AuditEvent, Connection, Organization, Person
from listening.core.queue import QUEUE_MAINTENANCE, QUEUE_SYNC
from listening.outlook.connection import Failure, Outcome
from listening.sync import queue as sync_queue
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support import stores
from tests.support.apps import clean, make_app, services_of


@pytest.fixture(scope="module")
def mailboxes():
    """Three mailboxes of 2,500 events each: three calendarView pages per sync."""
    from emulator.testing import running_emulator

    with running_emulator(seed="scale", people=3, events=2500) as emu:
        yield emu


@pytest.fixture
def emu3(mailboxes):
    yield mailboxes
    mailboxes.reset(world=True, tokens=True)


def _link_all(app, session, emu) -> list[Connection]:
    emails = sorted(u["email"] for u in emu.users())
    first = f.linked(services_of(app), session, emu, email=emails[0])
    org = session.get(Organization, first.org_id)
    return [first] + [f.linked(services_of(app), session, emu, email=e, org=org) for e in emails[1:]]


def _served(emu, email: str) -> int:
    return emu.stats()["by_mailbox"].get(email, 0)


def _status(app, connection_id: int):
    job = services_of(app).jobs.job(sync_queue.sync_job_id(connection_id))
    return job.get_status() if job is not None else None


def _synced(session, connection_id: int) -> bool:
    """Synced, whole: the scale seed's 2,500 events (the organization's default window can hold
    one more, which the seed placed just past its own window)."""
    c = h.connection(session, connection_id)
    return c is not None and c.last_sync_outcome == "ok" and h.count(session, connection_id) >= 2500


def _sweep(app) -> None:
    """What the clock does every 15 s."""
    services_of(app).jobs.queue(QUEUE_MAINTENANCE).enqueue(sync_queue.SWEEP_JOB)


class Clock:
    """The clock process's sweep, every ``every`` seconds, on a thread of the test."""

    def __init__(self, app, every: float = 1.0):
        self.app, self.every, self._done = app, every, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._done.wait(self.every):
            try:
                _sweep(self.app)
            except Exception:  # noqa: BLE001 - Redis may be restarting
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


# --- Redis restarted under busy workers -----------------------------------------------------------
@pytest.mark.parametrize("keep_data, down_for", [(True, 0), (False, 0), (True, 60)],
                         ids=["with its data", "without its data", "with its data, 60 s down"])
def test_redis_restarted_while_two_workers_are_busy_and_a_retry_is_scheduled(
        database_url, key_prefix, emu3, session, tmp_path, keep_data, down_for):
    redis = stores.OwnRedis(tmp_path)
    app = make_app(database_url, redis.url, key_prefix, emu3.url, tmp_path, sync_retry=(2, (8,)))
    services = services_of(app)
    workers = []
    try:
        a, b, c = _link_all(app, session, emu3)
        ids = (a.id, b.id, c.id)
        for slow in (a, b):  # 1 s a page, three pages: they finish while Redis is down
            emu3.fault(type="latency", ms=1000, endpoint="calendarView", mailbox=slow.account_email)
        emu3.fault(type="throttle", retry_after=1, times=1, endpoint="calendarView", mailbox=c.account_email)
        for connection in (c, a, b):
            assert sync_queue.enqueue_sync(services, connection.id)
        env = stores.worker_env(services.settings, tmp_path / "worker", GRAPH_MAX_WAIT="0.5")
        workers = [stores.start_worker(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
        h.wait_for(lambda: _status(app, c.id) is JobStatus.SCHEDULED and _served(emu3, a.account_email) >= 1
                   and _served(emu3, b.account_email) >= 1, timeout=60, step=0.1)
        before = {"jobs": [_status(app, i).value for i in ids], "items": [h.count(session, i) for i in ids],
                  "workers alive": sum(w.poll() is None for w in workers)}

        down = time.monotonic()
        redis.stop()
        h.wait_for(lambda: all(_synced(session, i) for i in (a.id, b.id)), timeout=30)  # committed meanwhile
        time.sleep(2)  # their workers now wait to record the results
        time.sleep(max(0.0, down_for - (time.monotonic() - down)))  # a failover's worth of outage
        redis.start(keep_data)
        outage = time.monotonic() - down
        emu3.clear_faults()
        if not keep_data:
            # The scheduled retry went with the data. The sweep queues C once its backoff (2 min)
            # has passed; here it is made due at once, as the clock would find it then.
            with services.db.unit_of_work() as uow:
                uow.get(Connection, c.id).next_sync_at = datetime.now(UTC)
            _sweep(app)
        h.wait_for(lambda: all(_synced(session, i) for i in ids), timeout=120, step=0.2)
        recovered = time.monotonic() - down
        after = {"items": [h.count(session, i) for i in ids], "workers alive": sum(w.poll() is None for w in workers),
                 "scheduler lock": bool(services.jobs.redis.exists(f"rq:scheduler-lock:{key_prefix}{QUEUE_SYNC}"))}
        print(f"\nRedis restarted {'with' if keep_data else 'without'} its data ({outage:.1f} s down): before "
              f"{before}; after {after}, all three synced {recovered:.1f} s after it went down")
        assert before["jobs"] == ["started", "started", "scheduled"] and before["workers alive"] == 2
        assert after["workers alive"] == 2 and min(after["items"]) >= 2500
        h.wait_for(lambda: services.jobs.redis.exists(f"rq:scheduler-lock:{key_prefix}{QUEUE_SYNC}"), timeout=30)
    finally:
        for worker in workers:
            stores.stop(worker, signal.SIGTERM)
        session.close()  # its open read would block the TRUNCATE below
        try:
            clean(app, key_prefix)
        finally:
            redis.stop()


# --- a worker killed, another started -------------------------------------------------------------
@pytest.mark.parametrize("by", ["refresh now", "the sweep"])
def test_a_worker_killed_mid_sync_is_found_abandoned_and_another_worker_finishes_it(
        database_url, redis_url, key_prefix, emu3, session, tmp_path, by):
    # A retry delay of 10 minutes: a sync finished within the test was queued again at once.
    app = make_app(database_url, redis_url, key_prefix, emu3.url, tmp_path, sync_retry=(2, (600,)))
    services = services_of(app)
    connection = f.linked(services_of(app), session, emu3)
    emu3.fault(type="latency", ms=1500, endpoint="calendarView")
    env = stores.worker_env(services.settings, tmp_path / "worker", JOB_HEARTBEAT_TTL=3)
    fast = {"maintenance_interval": "1", "worker_ttl": "16"}
    assert sync_queue.enqueue_sync(services, connection.id)
    first = stores.start_worker(env, tmp_path / "first.log", **fast)
    second = None
    try:
        h.wait_for(lambda: _served(emu3, connection.account_email) >= 1, timeout=60)
        stores.stop(first, signal.SIGKILL)
        killed = time.monotonic()
        before = {"job": _status(app, connection.id).value, "items": h.count(session, connection.id),
                  "refresh queues it": sync_queue.enqueue_sync(services, connection.id, trigger="manual")}
        emu3.clear_faults()
        if by == "refresh now":
            time.sleep(4)  # past the 3 s heartbeat TTL: RQ counts the job abandoned from now on
            assert sync_queue.enqueue_sync(services, connection.id, trigger="manual")  # sees through it
            assert _status(app, connection.id) is JobStatus.QUEUED
        second = stores.start_worker(env, tmp_path / "second.log", **fast)
        with Clock(app):
            h.wait_for(lambda: _synced(session, connection.id), timeout=90, step=0.2)
        took = time.monotonic() - killed
        items = h.items(session, connection.id)
        print(f"\nworker SIGKILLed mid-sync, recovered by {by}: before {before}; after: job "
              f"{_status(app, connection.id).value}, {len(items)} items, synced {took:.1f} s after the kill "
              f"(heartbeat TTL 3 s; production: 70 s + the 15 s sweep)")
        assert before == {"job": "started", "items": 0, "refresh queues it": False}
        assert _status(app, connection.id) is JobStatus.FINISHED
        assert len(items) == len({i.provider_event_id for i in items}) >= 2500
    finally:
        for worker in (first, second):
            if worker is not None:
                stores.stop(worker, signal.SIGKILL)
        session.close()
        clean(app, key_prefix)


def test_a_worker_killed_mid_notified_sync_has_its_calendar_queued_again_at_once(
        database_url, redis_url, key_prefix, emu3, session, tmp_path):
    """The sync a change notification asked for (a job id of its own) dies with its worker: the
    calendar is queued again when the job is found abandoned, not after RQ's retry delay."""
    from listening.notifications import queue as notify_queue

    app = make_app(database_url, redis_url, key_prefix, emu3.url, tmp_path, sync_retry=(2, (600,)))
    services = services_of(app)
    connection = f.linked(services_of(app), session, emu3)
    connection.next_sync_at = datetime.now(UTC) + timedelta(hours=24)  # a live subscription's safety net
    session.commit()
    emu3.fault(type="latency", ms=1500, endpoint="calendarView")
    env = stores.worker_env(services.settings, tmp_path / "worker", JOB_HEARTBEAT_TTL=3)
    fast = {"maintenance_interval": "1", "worker_ttl": "16"}
    notify_queue.sync_later(services, connection.id, trigger="notification")
    first = stores.start_worker(env, tmp_path / "first.log", **fast)
    second = None
    try:
        h.wait_for(lambda: _served(emu3, connection.account_email) >= 1, timeout=60)
        stores.stop(first, signal.SIGKILL)
        killed = time.monotonic()
        emu3.clear_faults()
        second = stores.start_worker(env, tmp_path / "second.log", **fast)
        with Clock(app):
            h.wait_for(lambda: _synced(session, connection.id), timeout=60, step=0.2)
        print(f"\nworker SIGKILLed mid notified sync: synced {time.monotonic() - killed:.1f} s after the kill "
              "(RQ's retry delay here: 600 s)")
    finally:
        for worker in (first, second):
            if worker is not None:
                stores.stop(worker, signal.SIGKILL)
        session.close()
        clean(app, key_prefix)


# --- SIGTERM during a throttled sync --------------------------------------------------------------
def test_sigterm_during_a_throttled_sync_stops_the_worker_and_the_sync_is_queued_again(
        database_url, redis_url, key_prefix, emu3, session, tmp_path):
    app = make_app(database_url, redis_url, key_prefix, emu3.url, tmp_path, sync_retry=(2, (600,)))
    services = services_of(app)
    connection = f.linked(services_of(app), session, emu3)
    emu3.fault(type="throttle", retry_after=5, endpoint="calendarView")  # waited out, up to 120 s
    env = stores.worker_env(services.settings, tmp_path / "worker", GRAPH_MAX_WAIT=120)
    assert sync_queue.enqueue_sync(services, connection.id)
    worker = stores.start_worker(env, tmp_path / "worker.log")
    try:
        h.wait_for(lambda: emu3.stats()["by_status"].get("429", 0) >= 2, timeout=60)
        before = {"job": _status(app, connection.id).value, "items": h.count(session, connection.id),
                  "failure_count": h.connection(session, connection.id).failure_count}
        seconds = stores.stop(worker, signal.SIGTERM, timeout=60)
        job = services.jobs.job(sync_queue.sync_job_id(connection.id))
        after = {"exit code": worker.returncode, "job": job.get_status().value,
                 "requeued": job.number_of_retries, "items": h.count(session, connection.id),
                 "failure_count": h.connection(session, connection.id).failure_count}
        session.expire_all()
        stopped = session.scalars(select(AuditEvent).where(AuditEvent.action == "calendar:sync")
                                  .order_by(AuditEvent.seq)).all()[-1].details
        print(f"\nSIGTERM during a throttled sync: the worker stopped in {seconds:.2f} s; before {before}; "
              f"after {after}; audited as {stopped['failure']}")
        assert after == {"exit code": 0, "job": "queued", "requeued": 1, "items": 0, "failure_count": 0}
        assert stopped["outcome"] == "stopped" and stopped["failure"] == "stopped_by_shutdown"
        emu3.clear_faults()
        runtime.use(services)
        try:
            h.work(app)  # the next worker
        finally:
            runtime.use(None)
        assert _synced(session, connection.id)
    finally:
        stores.stop(worker, signal.SIGKILL)
        session.close()
        clean(app, key_prefix)


# --- PostgreSQL gone for 20 s ---------------------------------------------------------------------
PAGES = ("/healthz", "/", "/one-on-ones")


def _probe(client, counts: dict) -> None:
    for path in PAGES:
        response = client.get(path)
        counts.setdefault(path, {}).setdefault(response.status_code, 0)
        counts[path][response.status_code] += 1
        if response.status_code == 503 and path != "/healthz":
            assert response.headers["Retry-After"] == "60"
            assert "can&#39;t reach its database" in response.get_data(as_text=True)


def test_postgresql_stopped_for_20_seconds_during_a_sync_and_while_pages_are_served(
        redis_url, key_prefix, emu3, tmp_path):
    pg = stores.OwnPostgres()
    app = make_app(pg.database(), redis_url, key_prefix, emu3.url, tmp_path)
    services = services_of(app)
    session = services.db.sessionmaker()
    try:
        connection = f.linked(services_of(app), session, emu3)
        client = app.test_client()
        f.sign_in_as(client, session.get(Person, connection.person_id))
        before = {}
        _probe(client, before)
        emu3.fault(type="latency", ms=1000, endpoint="calendarView")
        out = {}
        thread = threading.Thread(target=lambda: out.update(report=sync.run(services, connection.id)), daemon=True)
        thread.start()
        h.wait_for(lambda: _served(emu3, connection.account_email) >= 1, timeout=30)
        session.close()
        pg.stop()
        down, during = time.monotonic(), {}
        while time.monotonic() - down < 20:
            _probe(client, during)
            time.sleep(0.5)
        thread.join(30)
        pg.start()
        emu3.clear_faults()
        after = {}
        _probe(client, after)
        report = out["report"]
        again = sync.run(services, connection.id)
        print(f"\nPostgreSQL stopped for 20 s: pages before {before}, during {during}, after {after}; "
              f"the sync under way ended {report.outcome.value} ({report.failure.value}), the next one "
              f"{again.outcome.value} with {h.count(session, connection.id)} items")
        assert before == after == {"/healthz": {200: 1}, "/": {302: 1}, "/one-on-ones": {200: 1}}
        assert all(set(codes) == {503} for codes in during.values()) and sum(during["/"].values()) >= 10
        assert report.outcome is Outcome.transient and report.failure is Failure.database_unreachable
        assert again.outcome is Outcome.ok and h.count(session, connection.id) == again.inserted >= 2500
    finally:
        session.close()
        services.db.dispose()
        pg.close()
