"""Outbound events about attached 1-on-1s, recorded in the transaction of their cause.

Attach and detach (attaching.py), needs attention and restored (recheck.py, and unlinking,
which the unlink view announces), detach by erasure (admin/privacy.py) call ``changed``;
the every-minute sweep calls ``ended_occurrences``. The payload is what the API exposes
(exposed.py), built only when an endpoint of the organization asked for that event. The
caller commits; listening/webhooks/outbox.py says what happens then.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Text, and_, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from listening.core.models import CalendarItem, Connection, OneOnOne, WebhookEndpoint, WebhookEvent
from listening.one_on_ones import exposed
from listening.webhooks import outbox

ATTACHED = "one_on_one.attached"
DETACHED = "one_on_one.detached"
NEEDS_ATTENTION = "one_on_one.needs_attention"
RESTORED = "one_on_one.restored"
ENDED = "occurrence.ended"
# How far back the sweep looks for ended occurrences: a clock that stopped for longer loses
# the older ones (the outbox's dedupe key makes looking at the same one twice harmless).
LOOKBACK = timedelta(hours=6)
SCAN_LIMIT = 5000
_LONGEST_MEETING = timedelta(days=7)  # lets the scan use the (connection, start) index


def changed(session: Session, event_type: str, rows: list[OneOnOne], now: datetime,
            emails: dict[int, str | None] | None = None) -> int:
    """One event per row (all of one organization); returns how many deliveries were made."""
    if not rows:
        return 0
    org_id = rows[0].org_id
    endpoint_ids = outbox.subscribers(session, org_id, event_type)
    if not endpoint_ids:
        return 0
    return sum(outbox.record(session, org_id, event_type, data, now, endpoint_ids=endpoint_ids)
               for data in exposed.one_on_ones(session, rows, emails))


def changed_ids(session: Session, event_type: str, org_id: int, ids: list[int], now: datetime) -> int:
    rows = list(session.scalars(select(OneOnOne).where(OneOnOne.org_id == org_id, OneOnOne.id.in_(ids))
                                .order_by(OneOnOne.id))) if ids else []
    return changed(session, event_type, rows, now)


def _listening_orgs(session: Session):
    """(organization, its first occurrence.ended endpoint's creation) for each that listens."""
    return session.execute(select(WebhookEndpoint.org_id, func.min(WebhookEndpoint.created_at)).where(
        WebhookEndpoint.enabled.is_(True), WebhookEndpoint.events.contains([ENDED]))
        .group_by(WebhookEndpoint.org_id)).all()


def _ended_query(org_id: int, since: datetime, now: datetime, limit: int):
    key = func.concat(literal(ENDED + ":"), cast(OneOnOne.id, Text), literal(":"), CalendarItem.provider_event_id)
    return (select(OneOnOne.id, CalendarItem.provider_event_id, CalendarItem.start_utc,
                   CalendarItem.end_utc, key.label("key"))
            .join(Connection, and_(Connection.org_id == OneOnOne.org_id,
                                   Connection.person_id == OneOnOne.manager_id))
            .join(CalendarItem, and_(CalendarItem.connection_id == Connection.id,
                                     CalendarItem.series_id == OneOnOne.series_id))
            .where(OneOnOne.org_id == org_id, CalendarItem.org_id == org_id,
                   CalendarItem.event_type.in_(exposed.OCCURRENCE_TYPES),
                   CalendarItem.is_cancelled.is_(False),
                   CalendarItem.start_utc > since - _LONGEST_MEETING,
                   CalendarItem.end_utc > since, CalendarItem.end_utc <= now,
                   CalendarItem.end_utc > OneOnOne.attached_at,
                   ~exists(select(WebhookEvent.id).where(WebhookEvent.org_id == org_id,
                                                         WebhookEvent.dedupe_key == key)))
            .order_by(CalendarItem.end_utc, OneOnOne.id).limit(limit))


def ended_occurrences(session: Session, now: datetime, limit: int = SCAN_LIMIT) -> int:
    """Record ``occurrence.ended`` for each attached, not cancelled occurrence whose end passed
    (since the lookback, and since the organization's first such endpoint). Returns how many."""
    recorded = 0
    for org_id, first_endpoint in _listening_orgs(session):
        found = session.execute(_ended_query(org_id, max(now - LOOKBACK, first_endpoint), now, limit)).all()
        if not found:
            continue
        rows = list(session.scalars(select(OneOnOne).where(OneOnOne.id.in_({f[0] for f in found}))))
        shown = {r.id: data for r, data in zip(rows, exposed.one_on_ones(session, rows))}
        endpoint_ids = outbox.subscribers(session, org_id, ENDED)
        for one_on_one_id, event_id, start, end, key in found:
            data = {"one_on_one": shown[one_on_one_id], "occurrence": {
                "id": exposed.occurrence_id(one_on_one_id, event_id), "start": start, "end": end,
                "cancelled": False}}
            recorded += bool(outbox.record(session, org_id, ENDED, data, end, now=now, dedupe_key=key,
                                           endpoint_ids=endpoint_ids))
    return recorded
