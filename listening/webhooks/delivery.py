"""Delivering events: lease, post, settle; retries with backoff for 24 hours.

``deliver`` takes delivery ids and, for those still due:

1. leases them in one short transaction (``leased_until``, one more attempt counted), so
   two jobs never post the same delivery at once, and a worker killed mid-post leaves a
   lease that simply expires (the sweep then queues the delivery again, same webhook-id);
2. posts them, several at once (a slow receiver must not hold the others back), signed,
   with a timeout, never following a redirect, without reading the answer's body;
3. settles them in a second transaction: 2xx delivered; 410 disables the endpoint (the
   receiver asked us to stop); anything else (3xx included) is retried after
   ``backoff(attempts)`` until 24 hours after the event, and an endpoint that has failed
   for five days without a success is disabled. The HR admin sees why on the endpoints page.

It returns the retries to schedule, which the job queues after the commit.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core import crypto
from listening.core.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from listening.webhooks import endpoints, outbox, signing

log = logging.getLogger(__name__)
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
GIVE_UP_AFTER = timedelta(hours=24)
DISABLE_AFTER = timedelta(days=5)
LEASE_MARGIN = timedelta(seconds=30)
CONCURRENCY = 16
OVERDUE = timedelta(seconds=60)  # the after-commit job had its chance; the sweep steps in
GONE = "The receiver answered 410 Gone: it asked Listening to stop sending."


def backoff(attempts: int) -> timedelta:
    """30 s after the first failed attempt, doubling, at most 6 hours apart: 30 s, 1, 2, 4, 8,
    16, 32, 64, 128, 256 min, then every 6 hours until the event is 24 hours old (13 attempts)."""
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    url: str
    secret: str
    msg_id: str
    body: str


@dataclass(frozen=True)
class Result:
    delivery_id: int
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def body_of(event: WebhookEvent) -> str:
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def lease(session: Session, ring: crypto.KeyRing, ids: list[int], now: datetime,
          lease_for: timedelta) -> list[Attempt]:
    """Claim the due, unleased, pending deliveries among ``ids`` (others are skipped)."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == DeliveryStatus.pending,
               WebhookDelivery.next_attempt_at <= now,
               or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now))
        .order_by(WebhookDelivery.id)
        .with_for_update(of=WebhookDelivery, skip_locked=True)).all()
    attempts = []
    for delivery, event, endpoint in rows:
        if not endpoint.enabled:
            delivery.status, delivery.last_error = DeliveryStatus.failed, "endpoint disabled"
            continue
        delivery.attempts += 1
        delivery.leased_until, delivery.last_attempt_at = now + lease_for, now
        attempts.append(Attempt(delivery.id, endpoint.url, endpoints.secret_of(ring, endpoint),
                                event.msg_id, body_of(event)))
    session.flush()
    return attempts


def post(http: requests.Session, attempt: Attempt, now: datetime, timeout: float) -> Result:
    """One signed post; never follows a redirect and never reads the answer's body."""
    headers = signing.headers(attempt.secret, attempt.msg_id, now, attempt.body)
    try:
        with http.post(attempt.url, data=attempt.body.encode(), headers=headers, timeout=timeout,
                       allow_redirects=False, stream=True) as response:
            status = response.status_code
    except requests.Timeout:
        return Result(attempt.delivery_id, None, f"no answer within {timeout:g} s")
    except (requests.RequestException, OSError) as exc:
        return Result(attempt.delivery_id, None, _short(exc))
    if 300 <= status < 400:
        return Result(attempt.delivery_id, status, f"answered {status} (redirects are not followed)")
    return Result(attempt.delivery_id, status, None if 200 <= status < 300 else f"answered {status}")


def _short(exc: BaseException) -> str:
    """What went wrong, in a line: the exception's kind (its text may repeat the address's query)."""
    kind = type(exc).__name__
    reason = {"ConnectionError": "could not connect", "SSLError": "TLS failed",
              "PrivateAddressError": "the address is not public"}.get(kind, kind)
    return f"{reason} ({kind})"[:200]


def settle(session: Session, results: list[Result], now: datetime) -> list[tuple[int, datetime]]:
    """Write each attempt's outcome; returns (delivery id, when) for each retry to schedule."""
    retries = []
    for result in results:
        delivery = session.get(WebhookDelivery, result.delivery_id, with_for_update=True)
        if delivery is None:  # its endpoint was removed meanwhile
            continue
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        delivery.leased_until, delivery.last_status = None, result.status
        delivery.last_error = result.error
        if delivery.status is not DeliveryStatus.pending:
            continue  # settled meanwhile (the endpoint was disabled)
        if result.ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.delivered, now, None
            endpoint.failing_since = None
        elif result.status == 410:
            endpoints.disable(session, endpoint, None, GONE, now)
        else:
            retry = _failed(session, delivery, endpoint, now)
            if retry is not None:
                retries.append((delivery.id, retry))
    session.flush()
    return retries


def _failed(session: Session, delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime):
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since >= DISABLE_AFTER:
        since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC")
        endpoints.disable(session, endpoint, None, f"Every delivery has failed since {since} (five days); "
                                                   f"the last one: {delivery.last_error}.", now)
        return None
    created = session.scalar(select(WebhookEvent.created_at).where(WebhookEvent.id == delivery.event_id))
    retry = now + backoff(delivery.attempts)
    if retry > created + GIVE_UP_AFTER:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.failed, None
        delivery.last_error = f"gave up after {delivery.attempts} attempts in 24 hours; last: {delivery.last_error}"[:200]
        return None
    delivery.next_attempt_at = retry
    return retry


@dataclass(frozen=True)
class Delivered:
    attempted: int
    delivered: int
    retries: list[tuple[int, datetime]]


def deliver(unit_of_work, ring: crypto.KeyRing, http_for_thread, ids: list[int], now, *,
            timeout: float, concurrency: int = CONCURRENCY) -> Delivered:
    """Lease, post (``concurrency`` at once), settle; ``now()`` gives the time at each step,
    ``http_for_thread()`` the calling thread's HTTP session, ``unit_of_work()`` a transaction."""
    with unit_of_work() as session:
        attempts = lease(session, ring, ids, now(), timedelta(seconds=timeout) + LEASE_MARGIN)
    if not attempts:
        return Delivered(0, 0, [])
    with ThreadPoolExecutor(max_workers=min(concurrency, len(attempts))) as pool:
        results = list(pool.map(lambda a: post(http_for_thread(), a, now(), timeout), attempts))
    with unit_of_work() as session:
        retries = settle(session, results, now())
    failed = [r for r in results if not r.ok]
    if failed:
        log.info("webhooks: %s of %s deliveries failed (e.g. delivery %s: %s)", len(failed), len(results),
                 failed[0].delivery_id, failed[0].error)
    return Delivered(len(results), len(results) - len(failed), retries)


def thread_local_http(make):
    """``http_for_thread`` for ``deliver``: one HTTP session per thread (``make()`` builds one)."""
    local = threading.local()

    def http():
        if getattr(local, "session", None) is None:
            local.session = make()
        return local.session
    return http


def overdue(session: Session, now: datetime, limit: int = 5000) -> list[int]:
    """Pending deliveries due for a minute and not in flight: their job was lost (Redis down at
    the cause's commit, a worker killed mid-post, a scheduled retry that vanished)."""
    return list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == DeliveryStatus.pending, WebhookDelivery.next_attempt_at <= now - OVERDUE,
        or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now))
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)))


def redeliver(session: Session, org_id: int, delivery_id, actor, now: datetime) -> WebhookDelivery | None:
    """Send a delivery again now, same webhook-id (an HR admin's button); queued after commit."""
    try:
        delivery_id = int(delivery_id)
    except (TypeError, ValueError):
        return None
    delivery = session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.org_id == org_id, WebhookDelivery.id == delivery_id).with_for_update())
    if delivery is None:
        return None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if not endpoint.enabled:
        raise endpoints.EndpointError("This endpoint is disabled; enable it first.")
    delivery.status, delivery.next_attempt_at, delivery.leased_until = DeliveryStatus.pending, now, None
    session.flush()
    session.info.setdefault(outbox.PENDING, []).append(delivery.id)
    audit.record(session, Action.webhook_redelivered, actor, None,
                 {"delivery_id": delivery.id, "endpoint_id": endpoint.id}, org_id=org_id)
    return delivery
