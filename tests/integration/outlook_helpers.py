"""Arrange a Listening organization that mirrors one of the emulator's tenants."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock
from urllib.parse import urlsplit

import itsdangerous.timed
from sqlalchemy import select

from listening.core.models import AuditEvent, Connection, Organization, Person, Role
from listening.web import outlook
from tests.support import factories as f


@dataclass
class Company:
    org: Organization
    manager: Person
    manager_email: str
    report_emails: list[str]
    other_manager_email: str
    admin_email: str


def company(session, emu, domain: str = "contoso.com", calendar_scope: str = "Calendars.Read") -> Company:
    """The first manager of that emulator tenant (and one other person) in a fresh organization."""
    users = [u for u in emu.users() if u["email"].endswith("@" + domain)]
    managers = [u for u in users if u["directReports"]]
    boss, other = managers[0], managers[1]
    org = f.org(session, tenant_id=boss["tenant"], name=domain.split(".")[0].title())
    org.calendar_scope = calendar_scope
    manager = f.person(session, org, email=boss["email"], role=Role.manager, oid=boss["oid"],
                       name=boss["name"])
    top = next(u for u in users if not u["manager"])
    session.commit()
    return Company(org, manager, boss["email"], boss["directReports"], other["email"], top["email"])


def connection_of(session, person: Person) -> Connection | None:
    session.expire_all()
    return session.scalar(select(Connection).where(Connection.person_id == person.id))


def actions(session, org_id: int) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.org_id == org_id)
                                .order_by(AuditEvent.seq)))


def last_audit(session, org_id: int, action: str) -> AuditEvent:
    session.expire_all()
    return session.scalar(select(AuditEvent).where(AuditEvent.org_id == org_id,
                                                   AuditEvent.action == action)
                          .order_by(AuditEvent.seq.desc()).limit(1))


def approval_path(app, org: Organization, age: timedelta = timedelta(0)) -> str:
    """The path of the organization's admin-consent approval link, as Listening showed it
    ``age`` ago (only itsdangerous's clock is moved, and only while the link is signed)."""
    then = SimpleNamespace(time=lambda: time.time() - age.total_seconds())
    with mock.patch.object(itsdangerous.timed, "time", then), app.test_request_context():
        return urlsplit(outlook.admin_consent_url(org)).path
