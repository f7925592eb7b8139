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
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

_services = None


def services():
    """The process's Services, built on first use from the environment."""
    if _services is None:
        from listening import services as wiring
        from listening.core import config, logs

        settings = config.from_env()
        settings.check()
        logs.configure(settings.log_level)
        use(wiring.build(settings))
    return _services


def use(built) -> None:
    """Run jobs of this process with ``built`` (tests, commands); None forgets them."""
    global _services
    _services = built


def _forget_inherited_connections() -> None:
    if _services is not None:
        _services.db.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


@contextmanager
def job_scope():
    """The Services, with the RQ job id on every log line for the duration of the job."""
    from rq import get_current_job

    from listening.core import logs

    job = get_current_job()
    token = logs.context_id.set(job.id if job is not None else "local-" + uuid.uuid4().hex[:8])
    try:
        yield services()
    finally:
        logs.context_id.reset(token)
