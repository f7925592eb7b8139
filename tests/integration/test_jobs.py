"""RQ jobs on real Redis and PostgreSQL, run by an in-process burst worker: one sync per connection,
retries for transient failures, clear failures, the every-minute sweep and its cron entry."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq.cron import CronScheduler
from rq.job import JobStatus

from jobs import runtime
from listening.core import logs
from listening.core.models import ConnectionState, Organization
from listening.sync import queue as sync_queue
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support.apps import clean, make_app, services_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def job_app(database_url, redis_url, key_prefix, emulator, tmp_path):
    """The demo-emulator app with a short Graph wait budget and 1-second RQ retries."""
    app = make_app(database_url, redis_url, key_prefix, emulator.url, tmp_path,
                     graph_max_wait=0.5, sync_retry=(2, (1,)))
    runtime.use(services_of(app))
    yield app
    runtime.use(None)
    clean(app, key_prefix)
    emulator.reset()



def test_one_sync_per_connection_is_queued_and_the_job_syncs(job_app, session, emulator):
    connection = f.linked(services_of(job_app), session, emulator)
    with job_app.app_context():
        assert sync_queue.enqueue_sync(services_of(job_app), connection.id) is True
        assert sync_queue.enqueue_sync(services_of(job_app), connection.id) is False  # already queued: RQ unique id
    job = h.job_of(job_app, connection.id)
    assert job.timeout == sync_queue.JOB_TIMEOUT and job.ttl == sync_queue.TTL
    assert job.failure_ttl == sync_queue.FAILURE_TTL and job.retries_left == 2
    h.work(job_app)
    job = h.job_of(job_app, connection.id)
    assert job.get_status() is JobStatus.FINISHED
    assert job.return_value()["outcome"] == "ok" and job.return_value()["inserted"] == h.count(session, connection.id)
    with job_app.app_context():  # a finished job of the same id does not block the next one
        assert sync_queue.enqueue_sync(services_of(job_app), connection.id) is True


def test_job_log_lines_carry_the_job_id(job_app, session, emulator):
    connection = f.linked(services_of(job_app), session, emulator)
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.name == "listening.sync.mailbox":
                seen.append(record.context_id)

    handler = Collect()
    handler.addFilter(logs.ContextFilter())
    logging.getLogger().addHandler(handler)
    try:
        with job_app.app_context():
            sync_queue.enqueue_sync(services_of(job_app), connection.id)
        h.work(job_app)
    finally:
        logging.getLogger().removeHandler(handler)
    assert seen and set(seen) == {h.job_of(job_app, connection.id).id}


def test_a_transient_failure_is_retried_by_rq_and_then_succeeds(job_app, session, emulator):
    connection = f.linked(services_of(job_app), session, emulator)
    emulator.fault(type="throttle", retry_after=0.4, endpoint="calendarView")
    with job_app.app_context():
        sync_queue.enqueue_sync(services_of(job_app), connection.id)
    h.work(job_app)
    job = h.job_of(job_app, connection.id)
    assert job.get_status() is JobStatus.SCHEDULED and job.retries_left == 1
    assert h.connection(session, connection.id).failure_count == 1
    emulator.clear_faults()
    time.sleep(1.2)
    h.work(job_app, with_scheduler=True)  # the scheduler puts the due retry back on the queue
    assert h.job_of(job_app, connection.id).get_status() is JobStatus.FINISHED
    after = h.connection(session, connection.id)
    assert after.failure_count == 0 and after.last_sync_outcome == "ok" and h.count(session, connection.id) > 0


def test_a_retry_waiting_for_a_dead_scheduler_does_not_hold_back_the_sweep(
        database_url, redis_url, key_prefix, emulator, session, tmp_path):
    from jobs.sync import enqueue_due_syncs

    # A retry due in 10 minutes, and no scheduler to run it (the worker below has none).
    app = make_app(database_url, redis_url, key_prefix, emulator.url, tmp_path, graph_max_wait=0.5,
                     sync_retry=(2, (600,)))
    runtime.use(services_of(app))
    try:
        connection = f.linked(services_of(app), session, emulator)
        emulator.fault(type="unavailable", status=503, times=5, endpoint="calendarView")
        sync_queue.enqueue_sync(services_of(app), connection.id)
        h.work(app)
        before = h.job_of(app, connection.id)
        assert before.get_status() is JobStatus.SCHEDULED and before.retries_left == 1
        emulator.clear_faults()
        # The connection's own backoff has passed (2 minutes): the sweep finds it due and runs the
        # waiting retry now instead of leaving it to a scheduler that is not there.
        connection = h.connection(session, connection.id)
        connection.next_sync_at = datetime.now(UTC)
        session.commit()
        assert enqueue_due_syncs() == {"due": 1, "queued": 1, "recovered": 0}
        assert h.job_of(app, connection.id).get_status() is JobStatus.QUEUED
        h.work(app)
        assert h.job_of(app, connection.id).get_status() is JobStatus.FINISHED
        assert h.connection(session, connection.id).last_sync_outcome == "ok"
    finally:
        runtime.use(None)
        session.close()
        clean(app, key_prefix)
        emulator.reset()


def test_a_permanent_failure_ends_the_job_without_retries(job_app, session, emulator):
    connection = f.linked(services_of(job_app), session, emulator)
    emulator.fault(type="mailbox_not_enabled", mailbox=connection.account_email)
    with job_app.app_context():
        sync_queue.enqueue_sync(services_of(job_app), connection.id)
    h.work(job_app)
    job = h.job_of(job_app, connection.id)
    assert job.get_status() is JobStatus.FINISHED and job.return_value()["outcome"] == "error"
    assert h.connection(session, connection.id).state is ConnectionState.error


def test_a_malformed_page_fails_the_job_with_a_clear_error_and_nothing_written(
        database_url, redis_url, key_prefix, emulator, session, tmp_path):
    with h.graph_proxy(emulator.url, spoil_page=None, mode="no_value") as proxy:
        app = make_app(database_url, redis_url, key_prefix, emulator.url, tmp_path,
                         graph_url=proxy.url + "/v1.0", sync_retry=(1, (0,)))
        runtime.use(services_of(app))
        try:
            connection = f.linked(services_of(app), session, emulator)
            with app.app_context():
                sync_queue.enqueue_sync(services_of(app), connection.id)
            h.work(app)  # the first run, then its one immediate retry
            job = h.job_of(app, connection.id)
            assert job.get_status() is JobStatus.FAILED
            assert "page 1 of calendarView has no 'value' list; nothing was written" in job.latest_result().exc_string
            assert h.count(session, connection.id) == 0
            assert h.connection(session, connection.id).failure_count == 2
        finally:
            runtime.use(None)
            session.close()
            clean(app, key_prefix)


def test_the_sweep_queues_only_due_linked_connections_of_orgs_with_sync_on(job_app, session, emulator):
    emails = f.manager_emails(emulator)
    due = f.linked(services_of(job_app), session, emulator, emails[0])
    org = session.get(Organization, due.org_id)
    later = f.linked(services_of(job_app), session, emulator, emails[1], org=org)
    broken = f.linked(services_of(job_app), session, emulator, emails[2], org=org)
    later.next_sync_at = datetime.now(UTC) + timedelta(minutes=30)
    broken.state = ConnectionState.needs_reconnect
    session.commit()
    ids = (due.id, later.id, broken.id)
    from jobs.sync import enqueue_due_syncs

    assert enqueue_due_syncs() == {"due": 1, "queued": 1, "recovered": 0}
    assert enqueue_due_syncs() == {"due": 1, "queued": 0, "recovered": 0}  # still queued: not twice
    h.work(job_app)
    assert [h.count(session, i) > 0 for i in ids] == [True, False, False]
    assert h.connection(session, due.id).next_sync_at > datetime.now(UTC) + timedelta(minutes=59)
    org.sync_enabled = False
    due.next_sync_at = None
    session.commit()
    assert enqueue_due_syncs() == {"due": 0, "queued": 0, "recovered": 0}


def test_the_cron_configuration_runs_the_sweep_every_15_seconds_on_the_prefixed_queue(job_app, session, emulator):
    scheduler = CronScheduler(connection=services_of(job_app).jobs.redis)
    scheduler.load_config_from_file("jobs.cron")
    entries = {c.func_name: c for c in scheduler.get_jobs()}
    sweep = entries["jobs.sync.enqueue_due_syncs"]
    prefix = services_of(job_app).settings.queue_prefix
    assert sweep.interval == 15 and sweep.cron is None and sweep.queue_name == prefix + "maintenance"
    assert sweep.job_options["job_timeout"] == 120 and sweep.job_options["ttl"] == 14
    connection = f.linked(services_of(job_app), session, emulator)
    sweep.enqueue(services_of(job_app).jobs.redis)  # what rq cron does every 15 seconds
    h.work(job_app)
    assert h.connection(session, connection.id).last_sync_outcome == "ok"


def test_worker_settings_come_from_the_apps_own_configuration(database_url, redis_url, key_prefix, tmp_path):
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, QUEUE_PREFIX=key_prefix,
               LISTENING_KEYS="k1:" + "A" * 43 + "=", LISTENING_INSTANCE=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", "import jobs.rq_settings as s; print(s.REDIS_URL, *s.QUEUES)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == [redis_url, key_prefix + "webhooks", key_prefix + "sync", key_prefix + "maintenance"]


def test_the_worker_process_lets_rqs_stop_request_through_its_logging(job_app, tmp_path):
    """RQ's SIGTERM handler raises StopRequested; landing in a log line it must still stop the
    worker (tests/unit/test_log_interruptions.py shows what happens otherwise)."""
    from tests.support import stores

    env = stores.worker_env(services_of(job_app).settings, tmp_path / "worker")
    code = ("import logging, jobs.rq_settings\n"
            "from rq.exceptions import StopRequested\n"
            "from listening.core.logs import PassingHandler\n"
            "print([StopRequested in h.interruptions for h in logging.getLogger().handlers\n"
            "       if isinstance(h, PassingHandler)])")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "[True]", done.stderr[-2000:]
