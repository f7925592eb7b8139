"""The periodic jobs, for ``rq cron -c jobs.rq_settings jobs.cron`` (the Procfile's clock).

One declarative table: add a row, nothing else. Queue names get the
deployment's prefix; cron expressions are in the clock host's local time
(rq.cron), which is UTC on our servers; ``interval`` entries run every so many
seconds. Each entry states its timeout and TTLs. The sweep runs every 15 s: a sync
whose worker died is found by it within 15 s of its heartbeat lapsing (70 s), so
within 90 s of the death; a sweep that waited longer than that is superseded by the
next one, hence ttl=14.
"""
from __future__ import annotations

from dataclasses import dataclass

from rq import cron

from jobs import notifications, retention, runtime, sync, webhooks
from listening.core.queue import QUEUE_MAINTENANCE


@dataclass(frozen=True)
class Periodic:
    func: object
    job_timeout: int
    ttl: int
    result_ttl: int = 3600
    failure_ttl: int = 7 * 86400
    queue: str = QUEUE_MAINTENANCE
    cron: str | None = None
    interval: int | None = None  # seconds


SCHEDULE = (
    # Queue a sync for every connection that is due (each org sets its own interval), and again
    # the syncs whose worker was lost.
    Periodic(sync.enqueue_due_syncs, interval=15, job_timeout=120, ttl=14, result_ttl=600),
    # Graph subscriptions: create missing ones, renew before expiry, delete unwanted ones.
    Periodic(notifications.sweep_subscriptions, cron="* * * * *", job_timeout=120, ttl=55, result_ttl=600),
    # Retention: calendar data outside each org's window, audit entries past retention.
    Periodic(retention.purge_expired, cron="17 3 * * *", job_timeout=3600, ttl=3600),
    # occurrence.ended for occurrences that just ended, and deliveries whose job was lost.
    Periodic(webhooks.sweep, cron="* * * * *", job_timeout=120, ttl=55, result_ttl=600),
    # Webhook events and their delivery log are kept 30 days.
    Periodic(webhooks.purge_old, cron="37 3 * * *", job_timeout=600, ttl=3600),
)


def register_all(prefix: str) -> None:
    for entry in SCHEDULE:
        cron.register(entry.func, queue_name=prefix + entry.queue, cron=entry.cron, interval=entry.interval,
                      job_timeout=entry.job_timeout, ttl=entry.ttl, result_ttl=entry.result_ttl,
                      failure_ttl=entry.failure_ttl)


register_all(runtime.services().jobs.prefix)
