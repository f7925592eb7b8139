"""How a sync is queued: one job per connection at a time, with explicit timeouts, TTLs and
retries. Enqueue only after the transaction that made the sync due has committed.

The job functions live in jobs/sync.py; listening/ names them by dotted path
and never imports jobs/.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from listening.core.models import ConnectionState
from listening.core.queue import QUEUE_SYNC
from listening.outlook import connection as states

if TYPE_CHECKING:
    from listening.services import Services

SYNC_JOB = "jobs.sync.sync_connection"
SWEEP_JOB = "jobs.sync.enqueue_due_syncs"

JOB_TIMEOUT = 600            # seconds a sync may run; Graph waits are capped at 120 s per sync
TTL = 1800                   # a sync still queued after 30 min is dropped; the sweep re-queues it
RESULT_TTL = 3600
FAILURE_TTL = 7 * 86400
# Transient failures (throttling, Graph or the database unreachable) are retried by RQ as
# Settings.sync_retry says; meanwhile the connection's own backoff (outlook/connection.py)
# guards the sweep.


_JOB_ID = "sync-connection-"
# The syncs change notifications ask for: f"{NOTIFIED_JOB_ID}{connection id}-{suffix}"
# (listening/notifications/queue.py), each with an id of its own.
NOTIFIED_JOB_ID = "notified-sync-"


def sync_job_id(connection_id: int) -> str:
    """Deterministic, so RQ's ``unique`` keeps one sync per connection queued or running."""
    return f"{_JOB_ID}{int(connection_id)}"


def enqueue_sync(services: Services, connection_id: int, *, trigger: str = "schedule") -> bool:
    """Queue a sync of one connection; False when one is already queued, waiting or running.
    Raises redis.RedisError when Redis is unreachable (callers say so; the sweep catches up)."""
    job = services.jobs.enqueue_once(
        QUEUE_SYNC, SYNC_JOB, int(connection_id), trigger, job_id=sync_job_id(connection_id),
        retry=services.settings.sync_retry, job_timeout=JOB_TIMEOUT, ttl=TTL, result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL, description=f"sync connection {int(connection_id)} ({trigger})")
    return job is not None


def recover_abandoned(services: Services) -> list[int]:
    """Syncs whose worker is gone (their heartbeat lapsed, jobs/runtime.py): RQ's abandoned-job
    handling marks each (retried, or failed when out of retries), and each is queued again at
    once rather than after its retry delay. Returns the connection ids."""
    recovered = []
    for job_id in services.jobs.recover_abandoned(QUEUE_SYNC):
        connection_id = _connection_of(job_id)
        if connection_id is not None and connection_id not in recovered:
            enqueue_sync(services, connection_id, trigger="recovered")
            recovered.append(connection_id)
    return recovered


def _connection_of(job_id: str) -> int | None:
    """The connection a sync job is for, by its id (a scheduled or a notified sync)."""
    if job_id.startswith(_JOB_ID):
        number = job_id[len(_JOB_ID):]
    elif job_id.startswith(NOTIFIED_JOB_ID):
        number = job_id[len(NOTIFIED_JOB_ID):].split("-", 1)[0]
    else:
        return None
    return int(number) if number.isdigit() else None


def refusal_for_refresh(connection, org, zone: ZoneInfo, now: datetime | None = None) -> str | None:
    """Why "Refresh now" cannot queue a sync for this connection, in plain words (times in
    ``zone``, the person's); None if it can."""
    if not org.sync_enabled:
        return "Calendar sync is turned off for your organization (ask your HR admin)."
    if connection.state is ConnectionState.awaiting_approval:
        return "Your organization has not approved Listening yet, so there is no calendar to read."
    if connection.state is ConnectionState.needs_reconnect:
        return "Reconnect Outlook first: Microsoft no longer accepts the saved permission."
    if connection.state is ConnectionState.disabled:
        return "This Outlook connection is disabled."
    now = now or datetime.now(UTC)
    until = states.graph_waiting(connection, now)
    if until is not None:
        return states.graph_wait_words(until, now, zone) + "; it will refresh by itself then."
    return None


def prepare_refresh(session, connection, person) -> None:
    """A manager asked to try again: a connection in ``error`` (e.g. the mailbox was not
    enabled) goes back to ``linked`` so the sync may run; the change is audited."""
    if connection.state is ConnectionState.error:
        states.set_state(session, connection, ConnectionState.linked, None, actor=person)
