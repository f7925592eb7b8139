"""Named queries. Each takes a Session and an organization id, and never commits."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from listening.core.models import Organization, Person


def organization_by_tenant(session: Session, tenant_id: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.tenant_id == tenant_id.lower()))


def person(session: Session, org_id: int, person_id: int) -> Person | None:
    """A person of this organization, or None: callers answer 404 for anyone else's."""
    return session.scalar(select(Person).where(Person.org_id == org_id, Person.id == person_id))


def person_for_sign_in(session: Session, org_id: int, oid: str, addresses: list[str]) -> Person | None:
    """Keyed on tenant + oid; the first sign-in binds the oid to the row whose email or
    alias matches one of the token's addresses (and that has no oid yet)."""
    bound = session.scalar(select(Person).where(Person.org_id == org_id, Person.oid == oid))
    if bound is not None:
        return bound
    addresses = [a.strip().lower() for a in addresses if a and a.strip()]
    if not addresses:
        return None
    return session.scalar(
        select(Person).where(
            Person.org_id == org_id, Person.oid.is_(None),
            or_(Person.email.in_(addresses), Person.aliases.overlap(addresses)))
        .order_by(Person.id).limit(1))


# How lists of people are ordered: the active first, then by name.
PEOPLE_ORDER = (Person.active.desc(), func.lower(Person.display_name), Person.id)


def people(session: Session, org_id: int) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.org_id == org_id).order_by(*PEOPLE_ORDER)))


def direct_reports(session: Session, org_id: int, manager_id: int) -> list[Person]:
    return list(session.scalars(
        select(Person).where(Person.org_id == org_id, Person.manager_id == manager_id,
                             Person.active.is_(True))
        .order_by(func.lower(Person.display_name), Person.id)))


def has_direct_reports(session: Session, org_id: int, manager_id: int) -> bool:
    return session.scalar(select(Person.id).where(
        Person.org_id == org_id, Person.manager_id == manager_id, Person.active.is_(True)).limit(1)) is not None
