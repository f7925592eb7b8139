"""Arrange a manager's team for the 1-on-1s tests, and read back what the pages did.

The calendar data itself (Graph-shaped events, stored as a sync stores them) is built
by tests/support/calendars.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from listening.core.models import (
    AuditEvent,
    Connection,
    ConnectionState,
    OneOnOne,
    Person,
    Role,
)
from tests.support import factories as f
from tests.support.calendars import NOW


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


def post(client, path: str, **form):
    """A form post with the page's CSRF token (pass csrf_token=None to leave it out)."""
    token = form.pop("csrf_token", "page")
    data = {k: v for k, v in form.items() if v is not None}
    if token == "page":
        data["csrf_token"] = f.csrf_token(client, "/one-on-ones")
    elif token is not None:
        data["csrf_token"] = token
    return client.post(path, data=data)


def weekly_from(now: datetime, weeks_back: int = 4, hour: int = 17) -> datetime:
    """A start `weeks_back` weeks before now at `hour`:00 UTC, so some occurrences are past."""
    return (now - timedelta(weeks=weeks_back)).replace(hour=hour, minute=0, second=0)
