"""Webhook jobs: delivering a batch (queue "webhooks"), and the every-minute sweep and the
daily purge (queue "maintenance", scheduled in jobs/cron.py)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from jobs import runtime
from listening.one_on_ones import announce
from listening.webhooks import delivery, outbox, queueing, transport

log = logging.getLogger(__name__)
KEEP_EVENTS = timedelta(days=30)


def _now() -> datetime:
    return datetime.now(UTC)


def deliver(delivery_ids: list[int]) -> dict:
    """Post the due ones among ``delivery_ids`` and schedule their retries (after the commit)."""
    with runtime.job_scope() as services:
        settings = services.settings
        http = delivery.thread_local_http(lambda: transport.client(settings.production))
        done = delivery.deliver(services.db.unit_of_work, services.keys, http,
                                [int(i) for i in delivery_ids], _now, timeout=settings.webhook_timeout)
        for delivery_id, when in done.retries:
            queueing.enqueue(services.jobs, [delivery_id], at=when)
    return {"attempted": done.attempted, "delivered": done.delivered, "retries": len(done.retries)}


def sweep(now: datetime | None = None) -> dict:
    """Record occurrence.ended for the occurrences that just ended (queued as they commit), and
    queue again the deliveries whose job was lost."""
    now = now or _now()
    with runtime.job_scope() as services:
        with services.db.unit_of_work() as session:
            ended = announce.ended_occurrences(session, now)
        with services.db.unit_of_work() as session:
            late = delivery.overdue(session, now)
        if late:
            queueing.enqueue(services.jobs, late, tag=f"-sweep{int(now.timestamp()) // 60}")
    if late:
        log.info("webhooks sweep: %s overdue deliveries queued again", len(late))
    return {"occurrences_ended": ended, "requeued": len(late)}


def purge_old() -> dict:
    """Forget events (and their deliveries) older than 30 days."""
    with runtime.job_scope() as services, services.db.unit_of_work() as session:
        removed = outbox.purge(session, _now() - KEEP_EVENTS)
    return {"events_removed": removed}
