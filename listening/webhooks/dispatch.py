"""Queue each session's new deliveries right after its transaction commits.

A hook on every session of the database (``Database.listen``): a request, a job or a
command that recorded events (outbox.record) has them queued the moment it commits, and a
rolled-back one queues nothing. If Redis does not answer, the deliveries stay pending in
PostgreSQL and the every-minute sweep queues them (delivery.overdue).
"""
from __future__ import annotations

import logging

from listening.webhooks import outbox

log = logging.getLogger(__name__)


def install(database, enqueue) -> None:
    """``enqueue(ids)`` queues delivery jobs (queueing.enqueue bound to the app's queue)."""
    def after_commit(session) -> None:
        ids = outbox.take_pending(session)
        if not ids:
            return
        try:
            enqueue(ids)
        except Exception as exc:  # the commit stands; the sweep delivers them within minutes
            log.warning("could not queue %s webhook deliveries (%s); the sweep will", len(ids),
                        type(exc).__name__)

    def after_rollback(session) -> None:
        outbox.take_pending(session)

    database.listen("after_commit", after_commit)
    database.listen("after_rollback", after_rollback)
