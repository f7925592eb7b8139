"""Calendar sync jobs: one connection's sync, and the every-minute sweep that queues due ones."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import runtime
from listening import sync
from listening.outlook.connection import Outcome
from listening.sync import queue as sync_queue
from listening.sync import store as sync_store

log = logging.getLogger(__name__)
SWEEP_LIMIT = 5000  # connections queued per sweep; the rest wait for the next minute


class SyncFailed(RuntimeError):
    """Raised by a job whose sync failed in a way worth retrying (RQ ``Retry`` re-runs it)."""


def sync_connection(connection_id: int, trigger: str = "schedule") -> dict:
    """Sync one connection in one transaction (listening/sync/mailbox.py). Returns the report's counts.

    Transient and unexpected failures raise ``SyncFailed`` after the connection
    has recorded them, so RQ retries the job (Settings.sync_retry) and
    the failure is visible in RQ's failed registry with a clear message. A
    permanent failure (mailbox not enabled, reconnect needed) is an outcome, not
    an exception: retrying cannot help, the connection's state says why.
    """
    with runtime.job_scope() as services:
        report = sync.run(services, connection_id, trigger=trigger)
    if report.outcome in (Outcome.transient, Outcome.failed):
        raise SyncFailed(f"sync of connection {connection_id} failed ({report.outcome.value}): "
                         f"{report.detail}; nothing was written") from report.error
    return report.public()


def enqueue_due_syncs() -> dict:
    """Queue a sync for every linked connection whose next sync is due (run by rq cron)."""
    with runtime.job_scope() as services:
        with services.db.unit_of_work() as session:
            due = sync_store.due_connection_ids(session, datetime.now(UTC), SWEEP_LIMIT)
        # After the (read-only) unit of work: nothing is enqueued from inside a transaction.
        queued = sum(sync_queue.enqueue_sync(services, cid, trigger="schedule") for cid in due)
    if due:
        log.info("sweep: %s connections due, %s queued (the rest are already queued or running)",
                 len(due), queued)
    return {"due": len(due), "queued": queued}
