"""The only module of listening/ that imports rq: the Redis connection and enqueueing by dotted path.

Jobs are enqueued after the transaction that caused them has committed, with ids
(never ORM objects or tokens) as arguments, and with explicit timeouts and TTLs.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue
    from rq.job import Job

QUEUE_SYNC = "sync"
QUEUE_MAINTENANCE = "maintenance"
QUEUE_WEBHOOKS = "webhooks"


class JobQueue:
    """The deployment's queues on one Redis, opened on first use: with no REDIS_URL that first
    use starts the embedded Valkey, so a command that never queues anything never starts one.
    Queue names and job ids carry ``prefix`` (tests isolate their runs with it). redis and rq
    are imported on first use too: a command that queues nothing (graph-fetch) starts faster."""

    def __init__(self, url: str | None, instance_path: Path, prefix: str = ""):
        self._url, self._instance_path, self.prefix = url, instance_path, prefix
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
    def redis(self) -> Redis:
        if self._client is None:
            url = self.url
            with self._lock:
                if self._client is None:
                    from redis import Redis

                    self._client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                  health_check_interval=30)
        return self._client

    @property
    def opened(self) -> bool:
        return self._client is not None

    def queue(self, name: str) -> Queue:
        from rq import Queue

        return Queue(self.prefix + name, connection=self.redis)

    def names(self) -> list[str]:
        """The queues a worker listens to. Deliveries first: each is bounded by WEBHOOK_TIMEOUT,
        and "delivered within seconds of its cause" should not wait behind a queue of syncs."""
        return [self.prefix + QUEUE_WEBHOOKS, self.prefix + QUEUE_SYNC, self.prefix + QUEUE_MAINTENANCE]

    def job(self, job_id: str) -> Job | None:
        """The job of that (unprefixed) id, or None."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            return Job.fetch(self.prefix + job_id, connection=self.redis)
        except NoSuchJobError:
            return None

    def enqueue_once(self, name: str, func: str, *args, job_id: str,
                     retry: tuple[int, tuple[int, ...]] | None = None, at=None, **options) -> Job | None:
        """Enqueue ``func`` (a dotted path) under a deterministic id, unless a job of that id is
        still queued, scheduled (waiting for a retry) or running: then None.

        RQ's ``unique=True`` refuses any existing job hash, including a finished or
        failed one kept for its result/failure TTL; such a leftover is deleted and
        the enqueue tried again, so a deterministic id never blocks the next run. ``at`` (an
        aware datetime) schedules it instead (the worker runs ``--with-scheduler``).
        """
        from rq import Retry
        from rq.exceptions import DuplicateJobError, NoSuchJobError
        from rq.job import Job, JobStatus

        # A job in one of these states still stands for "this work is pending or running".
        live = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
        q = self.queue(name)
        full_id = self.prefix + job_id
        if retry is not None:
            options["retry"] = Retry(max=retry[0], interval=list(retry[1]))
        for _ in range(3):
            try:
                if at is not None:
                    return q.enqueue_at(at, func, *args, job_id=full_id, unique=True, **options)
                return q.enqueue(func, *args, job_id=full_id, unique=True, **options)
            except DuplicateJobError:
                try:
                    existing = Job.fetch(full_id, connection=q.connection)
                except NoSuchJobError:
                    continue  # it expired in between: try again
                if existing.get_status(refresh=False) in live:
                    return None
                existing.delete()
        return None
