"""The outbox: an event and its deliveries, written in the transaction of their cause.

``record`` adds one ``webhook_events`` row (its ``msg_id`` is the ``webhook-id`` every
attempt repeats) and one pending ``webhook_deliveries`` row per enabled endpoint that asked
for that type, and notes the deliveries on the session. They exist exactly when the cause
committed; listening/webhooks/dispatch.py queues their delivery right after that commit,
and the sweep (jobs/webhooks.py) catches up whatever Redis did not take. So delivery is at
least once, and a rolled-back cause sends nothing. The caller commits.
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime

from sqlalchemy import Text, cast, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from listening.api import schemas
from listening.core.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

PENDING = "webhooks.pending_deliveries"  # key in Session.info
_SCHEMAS = {t: schemas.OneOnOneEvent() for t in schemas.EVENT_TYPES if t.startswith("one_on_one.")}
_SCHEMAS["occurrence.ended"] = schemas.OccurrenceEndedEvent()


def new_msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def subscribers(session: Session, org_id: int, event_type: str) -> list[int]:
    return list(session.scalars(select(WebhookEndpoint.id).where(
        WebhookEndpoint.org_id == org_id, WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.events.contains([event_type])).order_by(WebhookEndpoint.id)))


def record(session: Session, org_id: int, event_type: str, data: dict, when: datetime, *,
           now: datetime | None = None, dedupe_key: str | None = None,
           endpoint_ids: list[int] | None = None) -> int:
    """Write one event (``when``: the moment of its cause) for the endpoints that want it, due
    ``now`` (default ``when``); returns how many deliveries (0: nobody listens, and nothing is
    written). With ``dedupe_key`` a second event of that key is not written (periodic scans
    may see the same thing twice)."""
    endpoint_ids = subscribers(session, org_id, event_type) if endpoint_ids is None else endpoint_ids
    if not endpoint_ids:
        return 0
    payload = _SCHEMAS[event_type].dump({"type": event_type, "timestamp": when, "data": data})
    values = {"org_id": org_id, "msg_id": new_msg_id(), "type": event_type, "payload": payload,
              "dedupe_key": dedupe_key}
    statement = insert(WebhookEvent).values(**values).returning(WebhookEvent.id)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(constraint="webhook_events_dedupe_key")
    event_id = session.scalar(statement)
    if event_id is None:
        return 0
    rows = [WebhookDelivery(org_id=org_id, event_id=event_id, endpoint_id=endpoint_id,
                            status=DeliveryStatus.pending, next_attempt_at=now or when)
            for endpoint_id in endpoint_ids]
    session.add_all(rows)
    session.flush()
    session.info.setdefault(PENDING, []).extend(row.id for row in rows)
    return len(rows)


def take_pending(session: Session) -> list[int]:
    """The deliveries this session recorded since the last call (for the after-commit hook)."""
    return session.info.pop(PENDING, [])


def purge(session: Session, before: datetime) -> int:
    """Forget events older than ``before`` with their deliveries (all settled by then: retries
    stop after 24 hours). Returns how many events went."""
    return session.execute(delete(WebhookEvent).where(WebhookEvent.created_at < before)).rowcount


def _without(value, email: str):
    if isinstance(value, dict):
        return {k: _without(v, email) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, email) for v in value]
    return None if value == email else value


def forget_email(session: Session, org_id: int, email: str | None) -> int:
    """Erasure: the address leaves every stored event of the organization (those not yet
    delivered go out without it). Returns how many events were rewritten."""
    if not email:
        return 0
    rows = list(session.scalars(select(WebhookEvent).where(
        WebhookEvent.org_id == org_id, cast(WebhookEvent.payload, Text).contains(json.dumps(email)))))
    for row in rows:
        row.payload = _without(row.payload, email)
    session.flush()
    return len(rows)
