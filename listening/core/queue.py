"""The only module of listening/ that imports rq: the Redis connection and enqueueing by dotted path.

Jobs are enqueued after the transaction that caused them has committed, with ids
(never ORM objects or tokens) as arguments, and with explicit timeouts and TTLs.

A deterministic job id keeps one job per piece of work (one sync per connection), so
a job of that id that can no longer run must never block the next one: a finished or
failed leftover is deleted, a retry waiting for RQ's scheduler is run now (whoever
enqueues has found the work due), and a job whose worker is gone (its heartbeat
lapsed, jobs/runtime.py) goes through RQ's abandoned-job handling first.
"""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis
    from redis.retry import Retry as RedisRetry
    from rq import Queue
    from rq.job import Job

QUEUE_SYNC = "sync"
QUEUE_MAINTENANCE = "maintenance"
QUEUE_WEBHOOKS = "webhooks"


def patient_retry(seconds: float) -> RedisRetry:
    """redis-py's retry policy that keeps reconnecting for at least ``seconds``: waits of
    1-2 s with jitter (equal jitter, capped at 2 s), so many processes do not reconnect in step."""
    from redis.backoff import EqualJitterBackoff
    from redis.retry import Retry as RedisRetry

    return RedisRetry(EqualJitterBackoff(cap=2.0, base=0.5), retries=int(seconds) + 2)


class JobQueue:
    """The deployment's queues on one Redis, opened on first use: with no REDIS_URL that first
    use starts the embedded Valkey, so a command that never queues anything never starts one.
    Queue names and job ids carry ``prefix`` (tests isolate their runs with it). redis and rq
    are imported on first use too: a command that queues nothing (graph-fetch) starts faster.
    ``patience``: seconds a command keeps reconnecting before it fails (0: redis-py's own few)."""

    def __init__(self, url: str | None, instance_path: Path, prefix: str = "", patience: float = 0.0):
        self._url, self._instance_path, self.prefix, self.patience = url, instance_path, prefix, patience
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

                    extra = {"retry": patient_retry(self.patience)} if self.patience else {}
                    self._client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                  health_check_interval=30, **extra)
        return self._client

    @property
    def opened(self) -> bool:
        return self._client is not None

    def hasty(self, timeout: float = 0.5) -> Redis:
        """A client of the same Redis for best-effort writes (a sync's progress): short timeouts
        and no reconnecting, so a Redis that is away costs a caller half a second once, never
        the wait ``redis`` has the patience for."""
        from redis import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry as RedisRetry

        return Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout,
                              retry=RedisRetry(NoBackoff(), 0))

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

    def enqueue_later(self, name: str, func: str, *args, delay: float, job_id: str,
                      retry: tuple[int, tuple[int, ...]] | None = None, **options) -> Job:
        """Enqueue ``func`` to run ``delay`` seconds from now (RQ's scheduler, which runs in the
        worker, moves it to the queue then); at once when ``delay`` is 0."""
        from rq import Retry

        q = self.queue(name)
        if retry is not None:
            options["retry"] = Retry(max=retry[0], interval=list(retry[1]))
        if delay <= 0:
            return q.enqueue(func, *args, job_id=self.prefix + job_id, **options)
        return q.enqueue_in(timedelta(seconds=delay), func, *args, job_id=self.prefix + job_id, **options)

    def enqueue_once(self, name: str, func: str, *args, job_id: str,
                     retry: tuple[int, tuple[int, ...]] | None = None, at=None, **options) -> Job | None:
        """Enqueue ``func`` (a dotted path) under a deterministic id, unless a job of that id is
        still queued or running: then None. A job of that id waiting for a retry is queued now
        instead (and returned); one whose worker is gone is handed to RQ's abandoned-job handling
        (retried, or failed when out of retries) and then queued.

        RQ's ``unique=True`` refuses any existing job hash, including a finished or
        failed one kept for its result/failure TTL; such a leftover is deleted and
        the enqueue tried again, so a deterministic id never blocks the next run. ``at`` (an
        aware datetime) schedules it instead (the worker runs ``--with-scheduler``).
        """
        from rq import Retry
        from rq.exceptions import DuplicateJobError
        from rq.job import JobStatus
        from rq.registry import StartedJobRegistry

        # A job in one of these states still stands for "this work is pending or running".
        live = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
        q = self.queue(name)
        full_id = self.prefix + job_id
        if retry is not None:
            options["retry"] = Retry(max=retry[0], interval=list(retry[1]))
        for _ in range(4):
            try:
                if at is not None:
                    return q.enqueue_at(at, func, *args, job_id=full_id, unique=True, **options)
                return q.enqueue(func, *args, job_id=full_id, unique=True, **options)
            except DuplicateJobError:
                pass
            existing = self._existing(q, full_id)
            if existing is None:
                continue  # it expired in between, or a leftover without its data was removed
            status = existing.get_status(refresh=False)
            if status is JobStatus.SCHEDULED:
                return self._run_now(q, existing)
            if status is JobStatus.STARTED and full_id in self._abandoned(q):
                StartedJobRegistry(queue=q).cleanup()  # RQ: retried (scheduled) or failed
                continue
            if status in live:
                return None
            existing.delete()
        return None

    def recover_abandoned(self, name: str) -> list[str]:
        """RQ's abandoned-job handling for one queue (what a worker's maintenance does every
        few minutes), now: jobs whose worker stopped beating are retried or failed. Returns
        their ids (unprefixed), so the caller can queue their work again at once."""
        from rq.registry import StartedJobRegistry

        q = self.queue(name)
        abandoned = self._abandoned(q)
        if abandoned:
            StartedJobRegistry(queue=q).cleanup()
        return [job_id.removeprefix(self.prefix) for job_id in abandoned]

    @staticmethod
    def _abandoned(q: Queue) -> list[str]:
        """Ids of jobs in the queue's StartedJobRegistry whose heartbeat has lapsed."""
        from rq.registry import StartedJobRegistry

        return sorted(set(StartedJobRegistry(queue=q).get_expired_job_ids()))

    @staticmethod
    def _existing(q: Queue, full_id: str) -> Job | None:
        """The job of that id; None when it is gone, or when only a fragment of its hash is left
        (a worker finishing a job that a Redis restart without its data had lost), which is
        removed so the id is free again."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            return Job.fetch(full_id, connection=q.connection)
        except NoSuchJobError:
            q.connection.delete(Job.key_for(full_id))
            return None

    @staticmethod
    def _run_now(q: Queue, job: Job) -> Job | None:
        """Move a job waiting for a retry from RQ's scheduled registry to its queue. Taking it
        out of the registry is the claim: RQ's scheduler, or another caller, may be moving it
        at the same moment, and only one of us removes it."""
        if not q.scheduled_job_registry.remove(job):
            return None
        return q.enqueue_job(job)
