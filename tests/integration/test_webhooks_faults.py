"""Receivers that time out, fail, answer 410 or redirect; a worker killed mid-delivery; Redis
unreachable when the cause commits. Real HTTP receivers on loopback, real RQ workers."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from rq.registry import ScheduledJobRegistry

from jobs import runtime
from jobs import webhooks as webhook_jobs
from listening.core import queue
from listening.core.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from listening.webhooks import delivery, transport
from tests.integration import one_on_ones_helpers as h
from tests.integration import webhook_helpers as w
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import make_app, services_of
from tests.support.webhook_receiver import Receiver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def org(app, session, client, receiver):
    t = h.team(session)
    w.endpoint(app, session, t.org.id, receiver)
    t.events = cal.series(t.manager.email, [t.reports[0].email], "Ana / Dana", h.weekly_from(cal.NOW), 12,
                        series_id="S-ana", key=1)
    cal.store(services_of(app), session, t.connection, t.events)
    f.sign_in_as(client, t.manager)
    return t


def _attach(client, org):
    assert h.post(client, "/one-on-ones/attach", report_id=org.reports[0].id, series_id="S-ana").status_code == 303


def _deliver_at(app, now: datetime, timeout: float = 2.0):
    """The delivery use case at a chosen moment (the job does the same with the clock)."""
    services = services_of(app)
    with services.db.sessionmaker() as session:
        ids = [d.id for d in w.deliveries(session)]
    http = delivery.thread_local_http(lambda: transport.client(False))
    return delivery.deliver(services.db.unit_of_work, services.keys, http, ids, lambda: now, timeout=timeout)


@pytest.mark.parametrize("app_overrides", [{"webhook_timeout": 0.5}], indirect=True)
def test_a_receiver_that_times_out_is_tried_again_later_with_the_same_id(app, client, session, org, receiver):
    receiver.delay = 2.0
    _attach(client, org)
    w.work(app)
    [d] = w.deliveries(session)
    assert d.status.value == "pending" and d.attempts == 1 and d.last_error == "no answer within 0.5 s"
    assert timedelta(seconds=30) < d.next_attempt_at - d.last_attempt_at < timedelta(seconds=40)  # after the failure
    scheduled = ScheduledJobRegistry(queue=services_of(app).jobs.queue(queue.QUEUE_WEBHOOKS))
    assert len(scheduled.get_job_ids()) == 1  # the retry, queued for when it is due
    receiver.delay = 0
    _deliver_at(app, d.next_attempt_at)
    [d] = w.deliveries(session)
    assert d.status.value == "delivered" and d.attempts == 2
    first, second = receiver.wait(2)
    assert first["id"] == second["id"] and second["verified"]


def test_a_receiver_answering_500_backs_off_then_gives_up_after_24_hours(app, client, session, org, receiver):
    receiver.status = 500
    receiver.secret = None  # signed hours ahead of the clock here: the receiver would refuse the time
    _attach(client, org)
    w.work(app)
    [d] = w.deliveries(session)
    created = session.get(WebhookEvent, d.event_id).created_at
    gaps = []
    now = d.next_attempt_at
    while d.status.value == "pending":
        _deliver_at(app, now)
        [d] = w.deliveries(session)
        if d.next_attempt_at:
            gaps.append(round((d.next_attempt_at - now).total_seconds()))
            now = d.next_attempt_at
    assert gaps[:4] == [60, 120, 240, 480] and max(gaps) == 6 * 3600
    assert d.status.value == "failed" and d.last_error.startswith(f"gave up after {d.attempts} attempts")
    assert now - created < timedelta(hours=24) and d.attempts == 13 == len(receiver.received)
    assert len({r["id"] for r in receiver.received}) == 1
    session.expire_all()
    assert session.get(WebhookEndpoint, d.endpoint_id).enabled  # failing for a day is not five


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_admin_told(app, client, session, org, receiver):
    receiver.status = 503
    _attach(client, org)
    endpoint = session.query(WebhookEndpoint).one()
    endpoint.failing_since = datetime.now(UTC) - timedelta(days=5, seconds=1)
    session.commit()
    w.work(app)
    session.expire_all()
    endpoint = session.get(WebhookEndpoint, endpoint.id)
    assert not endpoint.enabled and "five days" in endpoint.disabled_reason
    assert [d.status.value for d in w.deliveries(session)] == ["failed"]
    hr = f.person(session, org.org, "hr@example.com", f.Role.hr_admin)
    session.commit()
    f.sign_in_as(client, hr)
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "Disabled" in page and "five days" in page


def test_a_receiver_answering_410_disables_the_endpoint(app, client, session, org, receiver):
    receiver.status = 410
    _attach(client, org)
    assert h.post(client, "/one-on-ones/detach", report_id=org.reports[0].id).status_code == 303
    w.work(app)
    session.expire_all()
    endpoint = session.query(WebhookEndpoint).one()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert [d.status.value for d in w.deliveries(session)] == ["failed", "failed"]
    assert len(receiver.received) == 1  # nothing more was sent after the 410
    _attach(client, org)  # a disabled endpoint gets no new deliveries
    assert len(w.deliveries(session)) == 2


def test_a_redirect_is_not_followed(app, client, session, org, receiver):
    elsewhere = Receiver()
    try:
        elsewhere.secret = receiver.secret
        receiver.location = elsewhere.url
        _attach(client, org)
        w.work(app)
        [d] = w.deliveries(session)
        assert d.status.value == "pending" and d.last_status == 302
        assert d.last_error == "answered 302 (redirects are not followed)"
        assert elsewhere.received == [] and len(receiver.received) == 1
    finally:
        elsewhere.close()


def test_a_worker_killed_mid_delivery_is_redelivered_with_the_same_id(app, client, session, org, receiver, tmp_path):
    receiver.hold = threading.Event()
    _attach(client, org)  # queued after the commit
    s = services_of(app).settings
    env = dict(os.environ, DATABASE_URL=s.database_url, REDIS_URL=s.redis_url, QUEUE_PREFIX=s.queue_prefix,
               MS_AUTHORITY=s.ms_authority, GRAPH_URL=s.graph_url, LISTENING_KEYS=s.keys,
               LISTENING_INSTANCE=str(tmp_path / "worker"), SECRET_KEY="test-secret", WEBHOOK_TIMEOUT="30")
    worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--worker-class", "rq.SimpleWorker",
                               "-c", "jobs.rq_settings"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        receiver.wait(1, timeout=60)  # the post arrived, and the receiver holds it
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        receiver.hold and receiver.hold.set()
    [d] = w.deliveries(session)
    assert d.status.value == "pending" and d.attempts == 1 and d.leased_until is not None
    runtime.use(services_of(app))
    try:
        assert webhook_jobs.sweep(now=d.leased_until - timedelta(seconds=1))["requeued"] == 0  # still leased
        # The lease runs out (WEBHOOK_TIMEOUT and a margin later), and the next sweep queues it.
        session.execute(WebhookDelivery.__table__.update().values(
            leased_until=datetime.now(UTC) - timedelta(seconds=1)))
        session.commit()
        assert webhook_jobs.sweep(now=datetime.now(UTC) + delivery.OVERDUE)["requeued"] == 1
    finally:
        runtime.use(None)
    w.work(app)
    first, second = receiver.wait(2)
    assert first["id"] == second["id"] and second["verified"]
    [d] = w.deliveries(session)
    assert d.status.value == "delivered" and d.attempts == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_unreachable_when_the_cause_commits_then_the_sweep_delivers(
        app, session, org, receiver, database_url, key_prefix, emulator, tmp_path):
    cut_off = make_app(database_url, f"redis://127.0.0.1:{_closed_port()}/0", key_prefix, emulator.url,
                       tmp_path / "cut-off")
    client = cut_off.test_client()
    f.sign_in_as(client, org.manager)
    _attach(client, org)  # committed; queueing its delivery failed
    assert services_of(app).jobs.queue(queue.QUEUE_WEBHOOKS).count == 0
    [d] = w.deliveries(session)
    assert d.status.value == "pending" and d.attempts == 0
    runtime.use(services_of(app))
    try:
        assert webhook_jobs.sweep(now=d.next_attempt_at + timedelta(seconds=61))["requeued"] == 1
    finally:
        runtime.use(None)
    w.work(app)
    assert receiver.wait(1)[0]["verified"]
    services_of(cut_off).db.dispose()
