"""Arrange a manager's stored calendar for the 1-on-1s tests.

Events are Graph-shaped (what calendarView returns with our $select) and go in
through the sync's own storing code (``sync.store_pages``: trim, encrypt with
the event aad, upsert, delete what is gone), so the tests read exactly what a
sync would have left.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from listening import sync
from listening.core.models import (
    AuditEvent,
    Connection,
    ConnectionState,
    OneOnOne,
    Person,
    Role,
)
from tests.support import factories as f
from tests.support.apps import services_of

CLASS_ID = "040000008200E00074C5B7101A82E008"
NOW = datetime.now(UTC).replace(microsecond=0)
_n = itertools.count(1)


def goid(n: int, day: datetime | None = None) -> str:
    """A hex Global Object ID (docs/filter-rules.md, "Series key"): class id, instance date, then data."""
    stamp = f"{day.year:04X}{day.month:02X}{day.day:02X}" if day else "00000000"
    data = f"{n:032X}"
    return CLASS_ID + stamp + "0" * 16 + "0" * 16 + f"{len(data) // 2:02X}000000" + data


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
            "iCalUId": goid(key, start), "subject": subject, "sensitivity": sensitivity,
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


@dataclass
class Team:
    org: object
    manager: Person
    reports: list[Person]
    connection: Connection
    outsider: Person
    events: list[dict] = field(default_factory=list)


def team(session, n_reports: int = 3, time_zone: str = "America/Los_Angeles") -> Team:
    """A manager (linked, no tokens needed: nothing here calls Microsoft) and their reports."""
    org = f.org(session)
    manager = f.person(session, org, "dana@example.com", Role.manager, name="Dana Boss",
                       aliases=["d.boss@example.com"])
    manager.time_zone = time_zone
    names = ["Ana Costa", "Bo Berg", "Chen Li", "Dee Dorn", "Eve Eng"]
    reports = [f.person(session, org, f"{names[i].split()[0].lower()}@example.com", Role.employee,
                        manager=manager, name=names[i]) for i in range(n_reports)]
    outsider = f.person(session, org, "olga@example.com", Role.manager, name="Olga Other")
    connection = Connection(org_id=org.id, person_id=manager.id, state=ConnectionState.linked,
                            account_email=manager.email, linked_at=NOW)
    session.add(connection)
    session.flush()
    session.commit()
    return Team(org, manager, reports, connection, outsider)


def store(app, session, connection: Connection, events: list[dict], now: datetime = NOW) -> None:
    """Leave exactly ``events`` stored for the connection, as a sync would."""
    window = (now - timedelta(days=30), now + timedelta(days=120))
    with app.app_context():
        sync.store_pages(session, connection, services_of(app).keys, [events], window, now, sync.SyncReport(connection.id))
    connection.last_sync_at = now  # read, as far as the page can tell
    session.commit()


def audits(session, org_id: int, action: str | None = None) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def pairs(session, org_id: int) -> list[tuple[int, int, str, str]]:
    session.expire_all()
    return [(r.manager_id, r.report_id, r.series_id, r.status.value) for r in session.scalars(
        select(OneOnOne).where(OneOnOne.org_id == org_id).order_by(OneOnOne.id))]


def csrf(client) -> str:
    page = client.get("/one-on-ones").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path: str, **form):
    """A form post with the page's CSRF token (pass csrf_token=None to leave it out)."""
    token = form.pop("csrf_token", "page")
    data = {k: v for k, v in form.items() if v is not None}
    if token == "page":
        data["csrf_token"] = csrf(client)
    elif token is not None:
        data["csrf_token"] = token
    return client.post(path, data=data)


def weekly_from(now: datetime, weeks_back: int = 4, hour: int = 17) -> datetime:
    """A start `weeks_back` weeks before now at `hour`:00 UTC, so some occurrences are past."""
    return (now - timedelta(weeks=weeks_back)).replace(hour=hour, minute=0, second=0)
