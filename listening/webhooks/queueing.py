"""How deliveries are queued: batches of ids on the "webhooks" queue, with explicit timeouts
and TTLs. Enqueue only after the transaction that wrote them has committed (dispatch.py does
it for every session). The job function lives in jobs/webhooks.py; listening/ names it by
dotted path and never imports jobs/.
"""
from __future__ import annotations

from datetime import datetime

from listening.core.queue import QUEUE_WEBHOOKS, JobQueue

DELIVER_JOB = "jobs.webhooks.deliver"
BATCH = 50              # deliveries per job; posted CONCURRENCY at a time (delivery.py)
JOB_TIMEOUT = 600       # a batch against receivers that all time out: 50 / 16 rounds of the timeout
TTL = 3600              # still queued after an hour: dropped, the sweep queues it again
RESULT_TTL = 600
FAILURE_TTL = 7 * 86400


def _batches(ids: list[int]):
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), BATCH):
        yield ordered[i:i + BATCH]


def enqueue(jobs: JobQueue, ids: list[int], *, at: datetime | None = None, tag: str = "") -> int:
    """Queue the deliveries (``at``: not before then); returns how many jobs were queued.
    Job ids are made of the batch (and ``tag``), so queueing the same batch again while it
    waits is a no-op. The sweep tags its jobs with the minute: a job left "started" by a
    killed worker must not stop the next sweep (the delivery's lease, not the job id, is what
    keeps two attempts apart). Raises redis.RedisError when Redis is unreachable."""
    queued = 0
    for batch in _batches(ids):
        name = f"webhook-{batch[0]}-{batch[-1]}-{len(batch)}" + (f"-at{int(at.timestamp())}" if at else "") + tag
        job = jobs.enqueue_once(QUEUE_WEBHOOKS, DELIVER_JOB, batch, job_id=name, at=at,
                                job_timeout=JOB_TIMEOUT, ttl=TTL, result_ttl=RESULT_TTL,
                                failure_ttl=FAILURE_TTL, description=f"deliver {len(batch)} webhook(s)")
        queued += job is not None
    return queued
