"""The app that jobs run in: built once per worker process, never at import of a job module.

``rq worker --worker-class rq.SimpleWorker -c jobs.rq_settings`` (the Procfile)
imports jobs/rq_settings.py in the worker process, which builds the app there;
every job of that worker then runs in it, with its warm connection pool. Syncs
are short and wait mostly on Graph, and forking a work-horse per job (RQ's
default Worker) cost about 0.27 s each here against about 0.18 s for a whole
500-event sync (bench/sync_bench.py). Should the forking Worker be used anyway,
each horse inherits the built app and drops the pooled database connections it
inherited (SQLAlchemy's advice for multiprocessing).

Tests and ``flask`` commands run jobs inside an app they already have: ``use(app)``.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

_app = None


def app():
    """The process's app, built on first use from the environment (listening/core/config.py)."""
    if _app is None:
        from listening import create_app

        use(create_app())
    return _app


def use(flask_app) -> None:
    """Run jobs of this process in ``flask_app`` (tests, commands); None forgets it."""
    global _app
    _app = flask_app


def _forget_inherited_connections() -> None:
    if _app is not None:
        from listening.core import db

        db.database(_app).dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


@contextmanager
def job_scope():
    """The app, with the RQ job id on every log line for the duration of the job."""
    from rq import get_current_job

    from listening.core import logs

    job = get_current_job()
    token = logs.context_id.set(job.id if job is not None else "local-" + uuid.uuid4().hex[:8])
    try:
        yield app()
    finally:
        logs.context_id.reset(token)


def queue_names(flask_app=None) -> list[str]:
    """The queues a worker listens to, with this deployment's prefix, busiest first."""
    from listening.core.queue import QUEUE_MAINTENANCE, QUEUE_SYNC, QUEUE_WEBHOOKS

    prefix = (flask_app or app()).config["SETTINGS"].queue_prefix
    # Deliveries first: each is bounded by WEBHOOK_TIMEOUT, and "delivered within seconds of
    # its cause" should not wait behind a queue of syncs.
    return [prefix + QUEUE_WEBHOOKS, prefix + QUEUE_SYNC, prefix + QUEUE_MAINTENANCE]
