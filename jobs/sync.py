"""Calendar sync jobs: one connection's sync, and the sweep that queues due ones."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from rq import Retry

from jobs import runtime
from listening import sync
from listening.outlook.connection import Failure, Outcome
from listening.sync import queue as sync_queue
from listening.sync import store as sync_store

log = logging.getLogger(__name__)
SWEEP_LIMIT = 5000  # connections queued per sweep; the rest wait for the next one
# A sync given up because its worker was stopping is queued again at once (RQ's Retry with
# no interval), at most this many times in a row.
REQUEUES_ON_SHUTDOWN = 10


class SyncFailed(RuntimeError):
    """Raised by a job whose sync failed in a way worth retrying (RQ ``Retry`` re-runs it)."""


def sync_connection(connection_id: int, trigger: str = "schedule"):
    """Sync one connection in one transaction (listening/sync/mailbox.py). Returns the report's counts.

    Transient and unexpected failures raise ``SyncFailed`` after the connection
    has recorded them, so RQ retries the job (Settings.sync_retry) and
    the failure is visible in RQ's failed registry with a clear message. A
    permanent failure (mailbox not enabled, reconnect needed) is an outcome, not
    an exception: retrying cannot help, the connection's state says why. A sync
    that gave way to its worker's shutdown returns RQ's ``Retry``: queued again at
    once, for the next worker; one that gave way to an unlink is simply over.
    """
    with runtime.job_scope() as services:
        report = sync.run(services, connection_id, trigger=trigger, shutdown=runtime.stopping())
    if report.failure is Failure.stopped_by_shutdown:
        return Retry(max=REQUEUES_ON_SHUTDOWN)
    if report.outcome in (Outcome.transient, Outcome.failed):
        raise SyncFailed(f"sync of connection {connection_id} failed ({report.outcome.value}): "
                         f"{report.detail}; nothing was written") from report.error
    return report.public()


def enqueue_due_syncs() -> dict:
    """Queue a sync for every linked connection whose next sync is due (run by rq cron).

    First, syncs whose worker is gone (no heartbeat: jobs/runtime.py) go through RQ's
    abandoned-job handling and are queued again at once; then a due connection's sync
    is queued even when an earlier one waits for a retry that RQ's scheduler has not
    run (listening/core/queue.py)."""
    with runtime.job_scope() as services:
        recovered = sync_queue.recover_abandoned(services)
        with services.db.unit_of_work() as session:
            due = sync_store.due_connection_ids(session, datetime.now(UTC), SWEEP_LIMIT)
        # After the (read-only) unit of work: nothing is enqueued from inside a transaction.
        queued = sum(sync_queue.enqueue_sync(services, cid, trigger="schedule") for cid in due)
    if recovered:
        log.warning("sweep: %s syncs had lost their worker; queued again: connections %s",
                    len(recovered), ", ".join(map(str, recovered)))
    if due:
        log.info("sweep: %s connections due, %s queued (the rest are already queued or running)",
                 len(due), queued)
    return {"due": len(due), "queued": queued, "recovered": len(recovered)}
