"""Arrange webhook endpoints and run delivery jobs for the webhook tests."""
from __future__ import annotations

from datetime import UTC, datetime

from rq import SimpleWorker
from sqlalchemy import select

from jobs import runtime
from listening.core import queue
from listening.core.models import WebhookDelivery, WebhookEvent
from listening.webhooks import endpoints
from tests.support.apps import services_of

ALL = ("one_on_one.attached", "one_on_one.detached", "one_on_one.needs_attention",
       "one_on_one.restored", "occurrence.ended")


def endpoint(app, session, org_id: int, receiver, events=ALL) -> int:
    made = endpoints.add(session, services_of(app).keys, org_id, receiver.url, events, None, datetime.now(UTC),
                         production=False)
    session.commit()
    receiver.secret = made.secret
    return made.row.id


def work(app, with_scheduler: bool = False) -> None:
    """Run every queued job of this run (webhooks first) in this process, then return."""
    jobs = services_of(app).jobs
    queues = [jobs.queue(name) for name in (queue.QUEUE_WEBHOOKS, queue.QUEUE_SYNC, queue.QUEUE_MAINTENANCE)]
    runtime.use(services_of(app))
    try:
        SimpleWorker(queues, connection=jobs.redis).work(burst=True, with_scheduler=with_scheduler)
    finally:
        runtime.use(None)


def deliveries(session) -> list[WebhookDelivery]:
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def events(session) -> list[WebhookEvent]:
    session.expire_all()
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))
