"""The Services that jobs run with: built once per worker process, never at import of a job module.

``rq worker --worker-class rq.SimpleWorker -c jobs.rq_settings`` (the Procfile)
imports jobs/rq_settings.py in the worker process, which builds the Services
there (listening/services.py, from the same environment as the web process);
every job of that worker then runs with them and their warm connection pool. No
Flask app is involved. Syncs are short and wait mostly on Graph, and forking a
work-horse per job (RQ's default Worker) cost about 0.27 s each here against
about 0.18 s for a whole 500-event sync (bench/sync_bench.py). Should the forking
Worker be used anyway, each horse drops the pooled database connections it
inherited (SQLAlchemy's advice for multiprocessing).

Tests and ``flask`` commands run jobs with Services they already have: ``use(services)``.

What ``job_scope`` adds to a job that a worker runs:

- a heartbeat. RQ's forking Worker beats for its work-horse every few seconds; a
  SimpleWorker beats only between jobs, and its running job counts as alive for the
  job's whole timeout (10 minutes for a sync) after its worker was killed. So the job
  beats for itself, through RQ's own ``Execution.heartbeat``, every
  ``Settings.job_heartbeat_ttl / 7`` seconds with that TTL: a job whose worker is gone
  is found abandoned by RQ's StartedJobRegistry cleanup within the TTL (70 s), and
  the sweep (jobs/sync.py) queues its work again at once.
- the worker's stop, as an Event (``stopping()``). SIGTERM (or SIGINT) still reaches
  RQ's own handler (a warm shutdown after this job); the job is told first, so a sync
  gives way at once instead of reading on (listening/sync/watch.py).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from contextlib import contextmanager

log = logging.getLogger(__name__)
_services = None
_stopping = threading.Event()
# The rq command line's Redis client waits this long for Redis to come back (restart or
# failover) before a command fails; the web process fails fast instead (its pages say so).
REDIS_PATIENCE = 75.0


def services():
    """The process's Services, built on first use from the environment."""
    if _services is None:
        from rq.exceptions import StopRequested

        from listening import services as wiring
        from listening.core import config, logs

        settings = config.from_env()
        settings.check()
        # RQ's SIGTERM handler raises StopRequested; landing in a log line it must still stop us.
        logs.configure(settings.log_level, interruptions=(StopRequested,))
        use(wiring.build(settings, redis_patience=REDIS_PATIENCE))
    return _services


def use(built) -> None:
    """Run jobs of this process with ``built`` (tests, commands); None forgets them."""
    global _services
    _services = built


def _forget_inherited_connections() -> None:
    if _services is not None:
        _services.db.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def stopping() -> threading.Event:
    """Set once the worker running the current job was asked to stop."""
    return _stopping


@contextmanager
def job_scope():
    """The Services, with the RQ job id on every log line for the duration of the job, the
    job's heartbeat, and the worker's stop request as ``stopping()``."""
    from rq import get_current_job

    from listening.core import logs

    job = get_current_job()
    token = logs.context_id.set(job.id if job is not None else "local-" + uuid.uuid4().hex[:8])
    try:
        built = services()
        if job is None:
            yield built
        else:
            with _told_of_stop(), _heartbeat(job, built.settings.job_heartbeat_ttl):
                yield built
    finally:
        logs.context_id.reset(token)


@contextmanager
def _told_of_stop():
    """Set ``stopping()`` on SIGTERM/SIGINT, then hand the signal to the handler that was there
    (RQ's warm shutdown). Only the main thread may set handlers (RQ's workers run jobs there)."""
    _stopping.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, frame):
        _stopping.set()
        before = previous[signum]
        if callable(before):
            before(signum, frame)
        elif before == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handler:  # RQ may have moved on to its cold-shutdown handler
                signal.signal(sig, before)


@contextmanager
def _heartbeat(job, ttl: int):
    """Keep the job's execution alive in RQ's StartedJobRegistry for ``ttl`` seconds at a time
    while the job runs (see the module docstring)."""
    execution = _current_execution(job)
    if execution is None:
        yield
        return
    done = threading.Event()

    def beat() -> None:
        registry = job.started_job_registry
        while True:
            try:
                with job.connection.pipeline() as pipeline:
                    execution.heartbeat(registry, ttl, pipeline=pipeline)
                    pipeline.execute()
            except Exception as exc:  # noqa: BLE001 - Redis away: beat again at the next turn
                log.warning("job heartbeat not sent: %s", type(exc).__name__)
            if done.wait(max(1.0, ttl / 7)):
                return

    thread = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(5)  # a beat stuck on an unreachable Redis must not hold the job's end


def _current_execution(job):
    """This worker's execution of ``job`` (RQ records one per run of a job)."""
    try:
        mine = [e for e in job.get_executions() if e.worker_name == job.worker_name]
    except Exception as exc:  # noqa: BLE001 - no heartbeat then; RQ's own TTL still applies
        log.warning("job heartbeat unavailable: %s", type(exc).__name__)
        return None
    return max(mine, key=lambda e: e.created_at) if mine else None
