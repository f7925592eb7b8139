"""Reading a manager's stored calendar for the filter: decrypt and judge only what decides.

The filter reads an event's content (subject, people, sensitivity, all-day,
responses, iCalUId) only on one occurrence per series: the latest live one, or,
when a series has none, the latest occurrence of any kind, which explains it
(docs/filter-rules.md, "Live occurrences" and "Rules"; filters/judging.py). Its verdict needs
just one more fact: the earliest live occurrence at or after now (rules 3 and
10, and ``next_start``). So each series reaches the filter as that
representative, decrypted, plus the skeleton of its next live occurrence; the
starts of all its live occurrences (for the cadence, the next few occurrences
and the counts) come from plain columns and are put back into the filter's
result by ``judged.judge_calendar``. A 2,000-event mailbox costs about a hundred
decryptions and a filter run over two hundred entries instead of 2,000
(bench/page_bench.py has the figures; tests/integration/test_one_on_ones_demo.py
checks the result equals judging every event decrypted).

One grouped query hands over each series' rows as four narrow arrays (no
encrypted copy, no SQLAlchemy row per item: both cost more than the filter
itself), ``pick`` chooses in Python, where ids compare in code-point order as
the spec wants, and a second query fetches the chosen rows' copies.

Single events are never candidates, never take part in rule 10, and the "why
isn't my meeting listed?" section is about recurring series, so they are not
read at all.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Iterable

from sqlalchemy import case, or_, select
from sqlalchemy.dialects.postgresql import array_agg
from sqlalchemy.orm import Session

from listening.core import crypto
from listening.core.models import CalendarItem, Connection

log = logging.getLogger(__name__)
RECURRING_TYPES = ("occurrence", "exception", "seriesMaster")
_IS_OCCURRENCE = CalendarItem.event_type.in_(("occurrence", "exception"))
# A master is the series named by its own id (sync stores seriesMasterId, None for a master).
SERIES = case((_IS_OCCURRENCE, CalendarItem.series_id), else_=CalendarItem.provider_event_id)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SeriesFacts:
    """What tells two copies of a series apart on the page (the filter does not need it):
    who organizes it, and Outlook's own link to it, where the copy to delete can be opened."""
    organizer: str | None
    web_link: str | None


@dataclass(frozen=True)
class StoredCalendar:
    """Filter input (per series its representative and next live occurrence), every series'
    live starts in ascending order, and the series whose stored copy could not be read."""
    events: list[dict]
    live_starts: dict[str, tuple[datetime, ...]]
    unreadable: frozenset[str] = frozenset()
    facts: dict[str, SeriesFacts] = field(default_factory=dict)


def _scope(query, connection: Connection, series_ids):
    query = query.where(CalendarItem.org_id == connection.org_id,
                        CalendarItem.connection_id == connection.id,
                        CalendarItem.event_type.in_(RECURRING_TYPES), SERIES.is_not(None))
    if series_ids is not None:
        wanted = list(series_ids)
        query = query.where(or_(CalendarItem.series_id.in_(wanted), CalendarItem.provider_event_id.in_(wanted)))
    return query


def series_query(connection: Connection, series_ids=None):
    """Per series, its rows' (ids, types, starts, cancelled flags): four arrays in one and
    the same row order (aggregates of one group read its rows in one pass)."""
    query = select(SERIES.label("series"), array_agg(CalendarItem.provider_event_id),
                   array_agg(CalendarItem.event_type), array_agg(CalendarItem.start_utc),
                   array_agg(CalendarItem.is_cancelled))
    return _scope(query, connection, series_ids).group_by(SERIES)


def _by_start(member: tuple) -> tuple:
    """(start, id) order; a missing start counts as the earliest."""
    return (member[2] or _EARLIEST, member[0])


def pick(ids, types, starts, cancelled) -> tuple[tuple | None, list[tuple]]:
    """(the representative, the live occurrences in (start, id) order) of one series' rows.

    The spec's "Live occurrences": occurrences and exceptions; a master only for a
    series with none. The representative is the latest live one, else the latest of
    any kind. Python compares ids in code-point order, as the spec does."""
    # A live entry without a start is malformed: the filter reports it alone, outside the series.
    rows = [r for r in zip(ids, types, starts, cancelled) if r[2] is not None or r[3]] \
        or list(zip(ids, types, starts, cancelled))
    members = [r for r in rows if r[1] != "seriesMaster"] or rows
    live = sorted((r for r in members if not r[3] and r[2] is not None), key=_by_start)
    return (live[-1] if live else max(members, key=_by_start)), live


def load_recurring(session: Session, ring: crypto.KeyRing, connection: Connection, now: datetime,
                   series_ids: Iterable[str] | None = None) -> StoredCalendar:
    """The connection's recurring series as filter input (optionally only some series)."""
    series_ids = list(series_ids) if series_ids is not None else None
    picked = {row[0]: pick(*row[1:]) for row in session.execute(series_query(connection, series_ids))}
    blobs = _blobs(session, connection, [rep[0] for rep, _ in picked.values()])
    events, live_starts, unreadable, facts = [], {}, set(), {}
    for series, (rep, live) in picked.items():
        content = _decrypt(ring, connection.id, rep[0], blobs.get(rep[0]))
        if content is None:
            unreadable.add(series)  # judged on nothing rather than on a made-up empty meeting
            continue
        events.append(content)
        facts[series] = _facts(content)
        live_starts[series] = tuple(member[2] for member in live)
        upcoming = next((member for member in live if member[2] >= now), None)
        if upcoming is not None and upcoming[0] != rep[0]:
            events.append(skeleton(upcoming[0], series, upcoming[1], upcoming[2]))
    if unreadable:
        log.warning("connection %s: %d stored series could not be decrypted", connection.id, len(unreadable))
    return StoredCalendar(events, live_starts, frozenset(unreadable), facts)


def _facts(event: dict) -> SeriesFacts:
    organizer = event.get("organizer")
    address = organizer.get("emailAddress") if isinstance(organizer, dict) else None
    email = address.get("address") if isinstance(address, dict) else None
    link = event.get("webLink")
    # Only Outlook's own https links are shown as links.
    return SeriesFacts(email.lower() if isinstance(email, str) else None,
                       link if isinstance(link, str) and link.startswith("https://") else None)


def _blobs(session: Session, connection: Connection, event_ids: list[str]) -> dict[str, bytes]:
    if not event_ids:
        return {}
    return dict(session.execute(select(CalendarItem.provider_event_id, CalendarItem.provider_data).where(
        CalendarItem.org_id == connection.org_id, CalendarItem.connection_id == connection.id,
        CalendarItem.provider_event_id.in_(event_ids))).all())


def skeleton(event_id: str, series_id: str, event_type: str, start: datetime) -> dict:
    """A live occurrence as the filter reads it when its content does not matter."""
    return {"id": event_id, "type": event_type, "seriesMasterId": series_id, "isCancelled": False,
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}


def _decrypt(ring: crypto.KeyRing, connection_id: int, event_id: str, blob) -> dict | None:
    try:
        event = json.loads(ring.decrypt(blob, crypto.aad_for("event", connection_id, event_id)))
    except (crypto.CryptoError, ValueError):
        return None
    return event if isinstance(event, dict) and event.get("id") == event_id else None
