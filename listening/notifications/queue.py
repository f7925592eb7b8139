"""The jobs change notifications queue: a debounced sync per mailbox, lifecycle events, upkeep.

The job functions live in jobs/notifications.py; listening/ names them by dotted path.

A burst of notifications for one mailbox becomes one sync: the first one sets a Redis key
(``notify:debounce:<connection>``) and schedules the sync ``Settings.notify_debounce`` seconds
later; those that find the key are covered by that sync, which removes the key as it starts,
before it reads the calendar (``claim``). The key's own expiry only bounds what a lost job
could swallow. (RQ's scheduler keeps whole seconds, so a job may start up to a second before
the time asked: the key cannot simply expire when the job is due.) A sync that finds another
sync of the same calendar running schedules itself again shortly (jobs/notifications.py), so
a notification that arrives during a sync is never answered by that sync alone.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from listening.core.queue import QUEUE_MAINTENANCE, QUEUE_SYNC
from listening.sync import queue as sync_queue

if TYPE_CHECKING:
    from listening.services import Services

SYNC_JOB = "jobs.notifications.sync_changed"
UPKEEP_JOB = "jobs.notifications.keep_subscription"
LIFECYCLE_JOB = "jobs.notifications.lifecycle_event"
UPKEEP_TIMEOUT = 120  # a create waits for Graph's validation of our endpoint (up to 10 s) and more
DEBOUNCE_KEY_LIFE = 300.0  # seconds: at most this long could a lost sync job swallow notifications


def _debounce_key(services: Services, connection_id: int) -> str:
    return f"{services.jobs.prefix}notify:debounce:{int(connection_id)}"


def sync_later(services: Services, connection_id: int, *, trigger: str, delay: float = 0.0,
               attempt: int = 0) -> None:
    """Queue a sync of one calendar that starts no sooner than ``delay`` seconds from now.

    Its own job id (not the scheduled sync's): a sync already running may have read the
    calendar before the change this one is for. Raises RedisError when Redis is unreachable."""
    services.jobs.enqueue_later(
        QUEUE_SYNC, SYNC_JOB, int(connection_id), trigger, attempt, delay=delay,
        job_id=f"{sync_queue.NOTIFIED_JOB_ID}{int(connection_id)}-{uuid.uuid4().hex[:12]}",
        retry=services.settings.sync_retry, job_timeout=sync_queue.JOB_TIMEOUT, ttl=sync_queue.TTL,
        result_ttl=600, failure_ttl=sync_queue.FAILURE_TTL,
        description=f"sync connection {int(connection_id)} ({trigger})")


def sync_after_changes(services: Services, connection_ids: Iterable[int]) -> int:
    """One debounced sync per mailbox; returns how many were queued (the others are covered by a
    sync already waiting). Raises RedisError: nothing is then left half-done that could swallow
    the notification's retry."""
    ids = sorted({int(c) for c in connection_ids})
    delay = services.settings.notify_debounce
    redis = services.jobs.redis
    if delay > 0 and ids:
        pipe = redis.pipeline(transaction=False)
        for connection_id in ids:
            pipe.set(_debounce_key(services, connection_id), 1, nx=True,
                     px=int((delay + DEBOUNCE_KEY_LIFE) * 1000))
        ids = [c for c, acquired in zip(ids, pipe.execute()) if acquired]
    queued = 0
    try:
        for connection_id in ids:
            sync_later(services, connection_id, trigger="notification", delay=delay)
            queued += 1
    except RedisError:
        # A key without its sync would swallow the notifications that follow it.
        if delay > 0:
            try:
                redis.delete(*[_debounce_key(services, c) for c in ids[queued:]])
            except RedisError:
                pass
        raise
    return queued


def claim(services: Services, connection_id: int) -> None:
    """A notified sync is starting: notifications from now on need a sync of their own."""
    try:
        services.jobs.redis.delete(_debounce_key(services, connection_id))
    except RedisError:
        pass  # the key expires by itself; until then notifications wait for the next sync


def keep_subscription(services: Services, connection_id: int) -> bool:
    """Queue the upkeep of one calendar's subscription (one at a time per calendar)."""
    job = services.jobs.enqueue_once(
        QUEUE_MAINTENANCE, UPKEEP_JOB, int(connection_id), job_id=f"subscription-{int(connection_id)}",
        job_timeout=UPKEEP_TIMEOUT, ttl=3600, result_ttl=600, failure_ttl=7 * 86400,
        description=f"subscription of connection {int(connection_id)}")
    return job is not None


def lifecycle_event(services: Services, subscription_id: str, event: str) -> bool:
    """Queue the answer to a lifecycle notification (the same one is queued once at a time)."""
    digest = hashlib.sha256(subscription_id.encode()).hexdigest()[:24]
    job = services.jobs.enqueue_once(
        QUEUE_MAINTENANCE, LIFECYCLE_JOB, subscription_id, event, job_id=f"lifecycle-{event}-{digest}",
        job_timeout=UPKEEP_TIMEOUT, ttl=4 * 3600, result_ttl=600, failure_ttl=7 * 86400,
        description=f"subscription lifecycle: {event}")
    return job is not None
