"""Small factories for arranging people, organizations and connections in tests (they flush,
never commit, unless they say so). Calendar data: tests/support/calendars.py."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

from listening.core.models import Connection, ConnectionState, OneOnOne, Organization, Person, Role

_n = itertools.count(1)


def org(session, tenant_id: str | None = None, name: str = "Acme") -> Organization:
    o = Organization(tenant_id=(tenant_id or f"00000000-0000-0000-0000-{next(_n):012d}").lower(), name=name)
    session.add(o)
    session.flush()
    return o


_new_org = org  # for the factories whose parameter is named ``org``


def person(session, organization: Organization, email: str | None = None, role: Role = Role.employee,
           manager: Person | None = None, name: str | None = None, oid: str | None = None,
           aliases: list[str] | None = None) -> Person:
    n = next(_n)
    p = Person(org_id=organization.id, email=email or f"person{n}@example.com", role=role,
               display_name=name or f"Person {n}", manager_id=manager.id if manager else None,
               oid=oid, aliases=aliases or [])
    session.add(p)
    session.flush()
    return p


def connection(session, person: Person, last_sync_at: datetime | None,
               account_email: str | None = None) -> Connection:
    """A linked connection whose tokens are placeholders: for tests that never call Microsoft."""
    conn = Connection(org_id=person.org_id, person_id=person.id, state=ConnectionState.linked,
                      ms_tenant_id="tenant", ms_oid=f"oid-{person.id}", account_email=account_email or person.email,
                      scopes="offline_access User.Read Calendars.Read",
                      access_token=b"placeholder", refresh_token=b"placeholder",
                      last_sync_at=last_sync_at, linked_at=last_sync_at)
    session.add(conn)
    session.flush()
    return conn


def linked(services, session, emu, email: str | None = None, org: Organization | None = None) -> Connection:
    """A linked connection of a manager of the emulator's Contoso (the first one unless ``email``),
    with real tokens minted by the emulator; commits."""
    users = {u["email"]: u for u in emu.users()}
    email = email or manager_emails(emu)[0]
    user = users[email]
    organization = org or _new_org(session, tenant_id=user["tenant"], name="Contoso")
    manager = person(session, organization, email=email, role=Role.manager, oid=user["oid"], name=user["name"])
    conn = Connection(org_id=organization.id, person_id=manager.id, state=ConnectionState.linked,
                      ms_tenant_id=user["tenant"], ms_oid=user["oid"], account_email=email,
                      linked_at=datetime.now(UTC))
    session.add(conn)
    session.flush()
    services.tokens.save(session, conn, emu.mint_token(email))
    session.commit()
    return conn


def manager_emails(emu, domain: str = "contoso.com") -> list[str]:
    """The emulator's managers (people with direct reports) of one domain."""
    return [u["email"] for u in emu.users() if u["email"].endswith("@" + domain) and u["directReports"]]


def one_on_one(session, manager: Person, report: Person, series_id: str = "series-1") -> OneOnOne:
    pair = OneOnOne(org_id=manager.org_id, manager_id=manager.id, report_id=report.id, series_id=series_id)
    session.add(pair)
    session.flush()
    return pair


def sign_in_as(client, p: Person) -> None:
    """For tests whose subject is not sign-in itself (tests/integration/test_sign_in.py drives the real flow)."""
    from listening.web.security import session_fields

    with client.session_transaction() as s:
        s.update(session_fields(p.id, p.org_id, p.session_version or 0))


def csrf_token(client, path: str) -> str:
    import re

    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
