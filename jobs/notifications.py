"""Change-notification jobs: the sync a notification asks for, lifecycle events, subscription upkeep.

- sync_changed(connection_id, trigger, attempt)   queue "sync": after a notification (debounced)
- lifecycle_event(subscription_id, event)          queue "maintenance": reauthorize, recreate, resync
- keep_subscription(connection_id)                 queue "maintenance": create, renew, delete one
- sweep_subscriptions()                            queue "maintenance", every minute (jobs/cron.py)
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from redis.exceptions import RedisError
from rq import Retry

from jobs import runtime
from jobs.sync import REQUEUES_ON_SHUTDOWN, SyncFailed
from listening import sync
from listening.notifications import queue as notify_queue
from listening.notifications import store as notify_store
from listening.notifications import subscriptions
from listening.outlook.connection import Failure, Outcome

log = logging.getLogger(__name__)
BUSY_WAIT = 2.0       # seconds before trying again when another sync of the calendar is running
BUSY_TRIES = 150      # ... for at most about five minutes (a sync may run ten; the sweep catches up)
SWEEP_LIMIT = 5000    # subscriptions looked after per sweep; the rest wait for the next minute
BACKOFF_FIRST = 120   # seconds before a failed upkeep is tried again, doubling up to
BACKOFF_CAP = 6 * 3600


def sync_changed(connection_id: int, trigger: str = "notification", attempt: int = 0):
    """Sync a calendar Graph told us changed. Another sync of it running may have read the
    calendar before the change, so this one then waits its turn instead of giving up. Like
    every sync, one that gave way to its worker's shutdown is queued again for the next."""
    with runtime.job_scope() as services:
        notify_queue.claim(services, connection_id)  # before reading: later changes need another sync
        report = sync.run(services, connection_id, trigger=trigger, shutdown=runtime.stopping())
        if report.failure is Failure.stopped_by_shutdown:
            return Retry(max=REQUEUES_ON_SHUTDOWN)
        if report.outcome is Outcome.busy:
            if attempt < BUSY_TRIES:
                notify_queue.sync_later(services, connection_id, trigger=trigger, delay=BUSY_WAIT,
                                        attempt=attempt + 1)
            else:
                log.warning("connection %s stayed busy; its change waits for the scheduled sync", connection_id)
    if report.outcome in (Outcome.transient, Outcome.failed):
        raise SyncFailed(f"sync of connection {connection_id} failed ({report.outcome.value}): "
                         f"{report.detail}; nothing was written") from report.error
    return report.public()


def lifecycle_event(subscription_id: str, event: str) -> dict:
    """Graph's lifecycle notifications (docs/microsoft-graph.md §9): ``reauthorizationRequired``
    reauthorizes; ``subscriptionRemoved`` creates a new subscription, then syncs; ``missed``
    syncs (notifications were dropped)."""
    with runtime.job_scope() as services:
        connection_id = subscriptions.connection_of(services, subscription_id)
        if connection_id is None:
            return {"event": event, "action": "unknown subscription"}
        if event == "reauthorizationRequired":
            upkeep = subscriptions.reauthorize(services, subscription_id)
        elif event == "subscriptionRemoved":
            upkeep = subscriptions.keep(services, connection_id, gone=subscription_id)
        else:
            upkeep = subscriptions.Upkeep("none", resync=True)
        if upkeep.resync:
            notify_queue.sync_later(services, connection_id, trigger=event)
    return {"event": event, "connection_id": connection_id, "action": upkeep.action,
            "resync": upkeep.resync}


def keep_subscription(connection_id: int) -> dict:
    with runtime.job_scope() as services:
        upkeep = subscriptions.keep(services, connection_id)
        if upkeep.resync:
            notify_queue.sync_later(services, connection_id, trigger="subscription")
        _note_outcome(services, connection_id, upkeep)
    return {"connection_id": connection_id, "action": upkeep.action, "resync": upkeep.resync}


def sweep_subscriptions() -> dict:
    """Queue the upkeep of every subscription that needs it: missing (new links, or calendars
    linked before notifications were on), due for renewal, expired, or no longer wanted."""
    with runtime.job_scope() as services:
        target = subscriptions.urls(services.settings)
        with services.db.unit_of_work() as session:
            due = notify_store.needing_upkeep(session, datetime.now(UTC), subscriptions.RENEW_BEFORE,
                                              target[0] if target else None, SWEEP_LIMIT)
        due = _not_backing_off(services, due)
        queued = sum(notify_queue.keep_subscription(services, cid) for cid in due)
    if due:
        log.info("subscriptions: %s need upkeep, %s queued", len(due), queued)
    return {"due": len(due), "queued": queued}


# --- a calendar whose subscription keeps failing is not retried every minute -----------------------
def _backoff_key(services, connection_id: int) -> str:
    return f"{services.jobs.prefix}subscription:backoff:{int(connection_id)}"


def _note_outcome(services, connection_id: int, upkeep) -> None:
    key = _backoff_key(services, connection_id)
    try:
        if upkeep.action != "failed":
            services.jobs.redis.delete(key, key + ":n")
            return
        failures = services.jobs.redis.incr(key + ":n")
        services.jobs.redis.expire(key + ":n", 86400)
        services.jobs.redis.set(key, 1, ex=min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures - 1, 16)))
    except RedisError:
        log.warning("could not record the upkeep outcome of connection %s: Redis unreachable", connection_id)


def _not_backing_off(services, connection_ids: list[int]) -> list[int]:
    if not connection_ids:
        return []
    pipe = services.jobs.redis.pipeline(transaction=False)
    for cid in connection_ids:
        pipe.exists(_backoff_key(services, cid))
    return [cid for cid, waiting in zip(connection_ids, pipe.execute()) if not waiting]
