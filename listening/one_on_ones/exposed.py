"""What of an attached 1-on-1 leaves Listening: for the API and the outbound events alike.

The two people by internal id and email, the cadence in words, the status, when it was
attached and when that last changed. Occurrences are times and a cancelled flag, read from
the plain columns of the stored copy: never a subject, an attendee or a body, and nothing
is decrypted. Plain dicts; listening/api/schemas.py says how they are written out.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from listening.core.models import CalendarItem, Connection, OneOnOne, OneOnOneStatus, Person
from listening.one_on_ones.cadence import cadence_in_words

OCCURRENCE_TYPES = ("occurrence", "exception")
STATUS = {OneOnOneStatus.ok: "active", OneOnOneStatus.needs_attention: "needs_attention"}
STATUS_OF = {v: k for k, v in STATUS.items()}


def occurrence_id(one_on_one_id: int, provider_event_id: str) -> str:
    """Stable across syncs and re-links, and says nothing of the Outlook item it stands for."""
    digest = hashlib.sha256(f"{one_on_one_id}:{provider_event_id}".encode()).hexdigest()
    return "occ_" + digest[:24]


def _connections(session: Session, org_id: int, manager_ids) -> dict[int, int]:
    return dict(session.execute(select(Connection.person_id, Connection.id).where(
        Connection.org_id == org_id, Connection.person_id.in_(list(manager_ids)))).all())


def _live_starts(session: Session, org_id: int, keys: set[tuple[int, str]]) -> dict:
    """(connection id, series id) -> starts of its live occurrences in the stored window."""
    starts = defaultdict(list)
    if not keys:
        return starts
    rows = session.execute(select(CalendarItem.connection_id, CalendarItem.series_id,
                                  CalendarItem.start_utc).where(
        CalendarItem.org_id == org_id,
        tuple_(CalendarItem.connection_id, CalendarItem.series_id).in_(list(keys)),
        CalendarItem.event_type.in_(OCCURRENCE_TYPES), CalendarItem.is_cancelled.is_(False),
        CalendarItem.start_utc.is_not(None)))
    for connection_id, series_id, start in rows:
        starts[(connection_id, series_id)].append(start)
    return starts


def _person(person_id: int, people: dict) -> dict:
    return {"id": person_id, "email": people.get(person_id)}


def _cadence(starts) -> str | None:
    """None when no live occurrence is in the stored calendar (unlinked, or nothing in the window)."""
    return cadence_in_words(starts) if starts else None


def one_on_ones(session: Session, rows: list[OneOnOne], emails: dict[int, str | None] | None = None) -> list[dict]:
    """The exposed form of ``rows`` (all of one organization), in their order.

    ``emails`` overrides what the directory says (an erasure announces its 1-on-1s with
    the erased person's address already gone)."""
    if not rows:
        return []
    org_id = rows[0].org_id
    ids = {r.manager_id for r in rows} | {r.report_id for r in rows}
    people = dict(session.execute(select(Person.id, Person.email).where(
        Person.org_id == org_id, Person.id.in_(ids))).all())
    people.update(emails or {})
    connections = _connections(session, org_id, {r.manager_id for r in rows})
    keys = {(connections[r.manager_id], r.series_id) for r in rows if r.manager_id in connections}
    starts = _live_starts(session, org_id, keys)
    return [{
        "id": r.id, "manager": _person(r.manager_id, people), "report": _person(r.report_id, people),
        "cadence": _cadence(starts.get((connections.get(r.manager_id), r.series_id))),
        "status": STATUS[r.status], "attached_since": r.attached_at, "changed_at": r.changed_at,
    } for r in rows]


def occurrences(session: Session, row: OneOnOne, start: datetime, end: datetime) -> list[dict]:
    """The series' occurrences overlapping [start, end), cancelled or not, by start."""
    connection_id = _connections(session, row.org_id, {row.manager_id}).get(row.manager_id)
    if connection_id is None:
        return []
    items = session.execute(select(CalendarItem.provider_event_id, CalendarItem.start_utc,
                                   CalendarItem.end_utc, CalendarItem.is_cancelled).where(
        CalendarItem.org_id == row.org_id, CalendarItem.connection_id == connection_id,
        CalendarItem.series_id == row.series_id, CalendarItem.event_type.in_(OCCURRENCE_TYPES),
        CalendarItem.start_utc < end, CalendarItem.end_utc > start)
        .order_by(CalendarItem.start_utc, CalendarItem.provider_event_id))
    return [{"id": occurrence_id(row.id, event_id), "start": s, "end": e, "cancelled": cancelled}
            for event_id, s, e, cancelled in items]
