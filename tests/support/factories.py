"""Small factories for arranging state in tests (they flush, never commit)."""
from __future__ import annotations

import itertools

from listening.core.models import Organization, Person, Role

_n = itertools.count(1)


def org(session, tenant_id: str | None = None, name: str = "Acme") -> Organization:
    o = Organization(tenant_id=(tenant_id or f"00000000-0000-0000-0000-{next(_n):012d}").lower(), name=name)
    session.add(o)
    session.flush()
    return o


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
