"""The only module of listening/ that imports rq: Redis connection and enqueueing by dotted path.

Jobs are enqueued after the request's commit, with ids (never ORM objects or
tokens) as arguments, and with explicit timeouts and TTLs.
"""
from __future__ import annotations

import threading

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

QUEUE_SYNC = "sync"
QUEUE_MAINTENANCE = "maintenance"
# A job in one of these states still stands for "this work is pending or running".
_LIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class RedisHolder:
    """The app's Redis client, made on first use: with no REDIS_URL that first use starts the
    embedded Valkey, so a command that never queues anything never starts one."""

    def __init__(self, url: str | None, instance_path):
        self._url, self._instance_path = url, instance_path
        self._lock = threading.Lock()
        self._client: Redis | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            with self._lock:
                if self._url is None:
                    from listening.core import embedded

                    self._url = embedded.valkey_url(self._instance_path)
        return self._url

    @property
    def client(self) -> Redis:
        if self._client is None:
            url = self.url
            with self._lock:
                if self._client is None:
                    self._client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                  health_check_interval=30)
        return self._client

    @property
    def opened(self) -> bool:
        return self._client is not None


def init_app(app) -> None:
    settings = app.config["SETTINGS"]
    app.extensions["redis"] = RedisHolder(settings.redis_url, settings.instance_path)


def redis_url(app=None) -> str:
    return (app or current_app).extensions["redis"].url


def redis_conn(app=None) -> Redis:
    return (app or current_app).extensions["redis"].client


def queue(name: str, app=None) -> Queue:
    app = app or current_app
    prefix = app.config["SETTINGS"].queue_prefix
    return Queue(prefix + name, connection=redis_conn(app))


def enqueue_once(name: str, func: str, *args, job_id: str, retry: tuple[int, list[int]] | None = None,
                 app=None, **options) -> Job | None:
    """Enqueue ``func`` (a dotted path) under a deterministic id, unless a job of that id is
    still queued, scheduled (waiting for a retry) or running: then None.

    RQ's ``unique=True`` refuses any existing job hash, including a finished or
    failed one kept for its result/failure TTL; such a leftover is deleted and
    the enqueue tried again, so a deterministic id never blocks the next run.
    """
    app = app or current_app
    q = queue(name, app)
    full_id = app.config["SETTINGS"].queue_prefix + job_id
    if retry is not None:
        options["retry"] = Retry(max=retry[0], interval=list(retry[1]))
    for _ in range(3):
        try:
            return q.enqueue(func, *args, job_id=full_id, unique=True, **options)
        except DuplicateJobError:
            try:
                existing = Job.fetch(full_id, connection=q.connection)
            except NoSuchJobError:
                continue  # it expired in between: try again
            if existing.get_status(refresh=False) in _LIVE:
                return None
            existing.delete()
    return None


def job_status(redis: Redis, full_id: str) -> str | None:
    """'queued', 'started', 'scheduled', 'finished', 'failed'... of a job, or None when no
    such job is kept. A job waiting for a retry is 'scheduled', not running."""
    try:
        status = Job.fetch(full_id, connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return None
    return status.value if status is not None else None
