"""Calendar data for tests and benchmarks, built in one place: Global Object IDs, Graph-shaped
events (what calendarView returns with our $select), and their stored copies.

Stored copies are made two ways: ``store`` puts events through the sync's own storing
code (trim, encrypt with the event's associated data, upsert, delete what is gone), so a
test reads exactly what a sync would have left; ``item`` writes one row by hand, for
rows whose columns a test chooses (times long past, a series master, any content).
"""
from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the GOID and event builders stay free of the app (bench/filter_bench.py uses them)
    from listening.core.models import CalendarItem, Connection

CLASS_ID = "040000008200E00074C5B7101A82E008"
CREATED = "00DC0612A8A1DD01"  # a creation time (FILETIME, little-endian), the same in every test GOID
NOW = datetime.now(UTC).replace(microsecond=0)  # when ``store`` writes, unless told
_n = itertools.count(1)


def goid(data: str, day: date | None = None, created: str = CREATED) -> str:
    """A Global Object ID in hex, as Graph serves it in ``iCalUId`` (docs/microsoft-graph.md §4,
    docs/filter-rules.md "Series key"): class id, instance date (year big-endian, month, day;
    zeros for a series or a single meeting), creation time, 8 zero bytes, the little-endian
    size of ``data``, then ``data`` (hex)."""
    stamp = f"{day.year:04X}{day.month:02X}{day.day:02X}" if day else "00000000"
    size = (len(data) // 2).to_bytes(4, "little").hex().upper()
    return CLASS_ID + stamp + created + "0" * 16 + size + data


# --- Graph-shaped events --------------------------------------------------------------------------
def _person(address: str, name: str | None = None) -> dict:
    return {"name": name, "address": address}


def series(manager: str, others: list[str], subject: str, first: datetime, count: int,
           every: timedelta = timedelta(days=7), *, organizer: str | None = None,
           sensitivity: str = "normal", responses: dict | None = None, key: int | None = None,
           cancelled: tuple[int, ...] = (), all_day: bool = False, series_id: str | None = None,
           resource: str | None = None) -> list[dict]:
    """``count`` occurrences of one series in the manager's mailbox."""
    series_id = series_id or f"AAMkSeries{next(_n):04d}="
    key = key if key is not None else next(_n) + 1000
    organizer = organizer or manager
    responses = responses or {}
    people = [a for a in [manager, *others] if a != organizer]
    attendees = [{"type": "required", "status": {"response": responses.get(a, "accepted"),
                                                 "time": "0001-01-01T00:00:00Z"},
                  "emailAddress": _person(a)} for a in people]
    if resource:
        attendees.append({"type": "resource", "status": {"response": "accepted"},
                          "emailAddress": _person(resource, "Room")})
    events = []
    for i in range(count):
        start = first + every * i
        events.append({
            "id": f"{series_id}-occ-{i:03d}", "type": "occurrence", "seriesMasterId": series_id,
            "iCalUId": goid(f"{key:032X}", start), "subject": subject, "sensitivity": sensitivity,
            "isAllDay": all_day, "isCancelled": i in cancelled, "showAs": "busy",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                    "timeZone": "UTC"},
            "organizer": {"emailAddress": _person(organizer)}, "attendees": attendees,
            "responseStatus": {"response": "organizer" if organizer == manager
                               else responses.get(manager, "accepted")},
            "isOrganizer": organizer == manager, "changeKey": f"ck-{series_id}-{i}-{next(_n)}",
            "body": {"content": "never stored"},
        })
    return events


def single(manager: str, other: str, subject: str, start: datetime) -> dict:
    event = series(manager, [other], subject, start, 1)[0]
    event.update(id=f"AAMkSingle{next(_n):04d}=", type="singleInstance")
    event.pop("seriesMasterId")
    return event


# --- stored copies --------------------------------------------------------------------------------
def store(services, session, connection: Connection, events: list[dict], now: datetime = NOW) -> None:
    """Leave exactly ``events`` stored for the connection, as a sync would; commits."""
    from listening import sync

    window = (now - timedelta(days=30), now + timedelta(days=120))
    sync.store_pages(session, connection, services.keys, [events], window, now, sync.SyncReport(connection.id))
    connection.last_sync_at = now  # read, as far as the 1-on-1s page can tell
    session.commit()


def plaintext(data: dict) -> bytes:
    """What ``item`` encrypts for ``data``."""
    return json.dumps(data).encode()


def item(services, session, connection: Connection, event_id: str, start: datetime | None = None,
         end: datetime | None = None, event_type: str = "singleInstance", series_id: str | None = None,
         subject: str = "1:1", data: dict | None = None) -> CalendarItem:
    """One stored copy written by hand (``data``: its whole content; by default a public event
    with ``subject`` at ``start``); flushes."""
    from listening.core import crypto
    from listening.core.models import CalendarItem

    if data is None:
        data = {"id": event_id, "type": event_type, "subject": subject, "sensitivity": "normal",
                "start": {"dateTime": start.isoformat(), "timeZone": "UTC"} if start else None}
    blob = services.keys.encrypt(plaintext(data), crypto.aad_for("event", connection.id, event_id))
    row = CalendarItem(org_id=connection.org_id, connection_id=connection.id, provider_event_id=event_id,
                       series_id=series_id, event_type=event_type, start_utc=start, end_utc=end,
                       is_cancelled=False, provider_data=blob, updated_at=start or NOW)
    session.add(row)
    session.flush()
    return row
