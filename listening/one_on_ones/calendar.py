"""Reading a manager's stored calendar for the filter: decrypt only what the filter reads.

The filter reads an event's content (subject, people, sensitivity, all-day,
responses, iCalUId) only on one occurrence per series: the latest live one, or,
when a series has none, the latest occurrence of any kind, which explains it
(spec "Live occurrences" and "Rules"; filters/judging.py). Every other
occurrence contributes only its id, type, series, start and isCancelled, and
calendar_items holds those in plain columns. So one row per series is
decrypted and the others are handed to the filter as those five fields: a
2,000-event mailbox costs about a hundred decryptions instead of 2,000
(bench/page_bench.py has the figures).

Single events are never candidates, never take part in rule 10, and the
"why isn't my meeting listed?" section is about recurring series, so they are
not read at all.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from listening import crypto
from listening.models import CalendarItem, Connection

log = logging.getLogger(__name__)
RECURRING_TYPES = ("occurrence", "exception", "seriesMaster")
_OCCURRENCE_TYPES = ("occurrence", "exception")


@dataclass(frozen=True)
class StoredCalendar:
    """Graph-shaped events for the filter, and the series whose stored copy could not be read."""
    events: list[dict]
    unreadable: frozenset[str] = frozenset()


def series_of(row) -> str:
    """A master is the series named by its own id (sync stores seriesMasterId, None for it)."""
    return row.series_id if row.event_type in _OCCURRENCE_TYPES else row.provider_event_id


def _order(row) -> tuple:
    start = row.start_utc.timestamp() if row.start_utc is not None else float("-inf")
    return (start, row.provider_event_id)


def representatives(rows: Iterable) -> dict[str, str]:
    """series id -> the provider_event_id whose content the filter reads for it."""
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(series_of(row), []).append(row)
    chosen = {}
    for series_id, members in groups.items():
        occurrences = [r for r in members if r.event_type in _OCCURRENCE_TYPES] or members
        live = [r for r in occurrences if not r.is_cancelled and r.start_utc is not None]
        chosen[series_id] = max(live or occurrences, key=_order).provider_event_id
    return chosen


def _skeleton(row) -> dict:
    """The five fields the filter reads on an occurrence that is not its series' representative."""
    event = {"id": row.provider_event_id, "type": row.event_type, "isCancelled": row.is_cancelled}
    if row.series_id is not None:
        event["seriesMasterId"] = row.series_id
    if row.start_utc is not None:
        event["start"] = {"dateTime": row.start_utc.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}
    return event


def load_recurring(session: Session, connection: Connection, series_ids: Iterable[str] | None = None,
                   ring: crypto.KeyRing | None = None) -> StoredCalendar:
    """The connection's recurring items as filter input (optionally only some series)."""
    rows = _plain_rows(session, connection, series_ids)
    chosen = representatives(rows)
    contents = _decrypt(session, connection, list(chosen.values()), ring or crypto.ring())
    unreadable = {s for s, event_id in chosen.items() if event_id not in contents}
    if unreadable:
        log.warning("connection %s: %d stored series could not be decrypted", connection.id, len(unreadable))
    events = []
    for row in rows:
        series_id = series_of(row)
        if series_id in unreadable:
            continue  # judged on nothing rather than on a made-up empty meeting
        full = chosen[series_id] == row.provider_event_id
        events.append(contents[row.provider_event_id] if full else _skeleton(row))
    return StoredCalendar(events, frozenset(unreadable))


def _plain_rows(session: Session, connection: Connection, series_ids) -> list:
    query = (select(CalendarItem.provider_event_id, CalendarItem.series_id, CalendarItem.event_type,
                    CalendarItem.start_utc, CalendarItem.is_cancelled)
             .where(CalendarItem.org_id == connection.org_id,
                    CalendarItem.connection_id == connection.id,
                    CalendarItem.event_type.in_(RECURRING_TYPES)))
    if series_ids is not None:
        wanted = list(series_ids)
        query = query.where((CalendarItem.series_id.in_(wanted))
                            | (CalendarItem.provider_event_id.in_(wanted)))
    return list(session.execute(query))


def _decrypt(session: Session, connection: Connection, event_ids: list[str],
             ring: crypto.KeyRing) -> dict[str, dict]:
    """provider_event_id -> decrypted event; rows that fail to decrypt or parse are left out."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(CalendarItem.provider_event_id, CalendarItem.provider_data)
        .where(CalendarItem.org_id == connection.org_id, CalendarItem.connection_id == connection.id,
               CalendarItem.provider_event_id.in_(event_ids)))
    out = {}
    for event_id, blob in rows:
        try:
            event = json.loads(ring.decrypt(blob, crypto.aad_for("event", connection.id, event_id)))
        except (crypto.CryptoError, ValueError):
            continue
        if isinstance(event, dict) and event.get("id") == event_id:
            out[event_id] = event
    return out
