"""Retention: remove calendar data outside an organization's window and old audit entries.

Idempotent: a second run at the same moment finds nothing more to remove and
records nothing. Each organization's calendar purge and audit purge run in
transactions of their own, so a failure in one organization changes nothing in
the others. Audit entries leave only through the database's ``audit_purge``
function (migrations/versions/0008_audit_roles_and_keys.py), which the app's
role may call but whose deletes it could never make itself: the app computes the
``audit_purged`` entry's HMAC (the database never holds the key), the function
checks that the entry describes exactly the span it removes, all older than the
retention, and inserts it and deletes the span in one statement.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, delete, func, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action, Origin, refusals
from listening.core.db import Database
from listening.core.models import AuditEvent, CalendarItem, Connection, Organization

if TYPE_CHECKING:
    from listening.services import Services


@dataclass(frozen=True)
class Report:
    org_id: int
    calendar_items: int
    audit_entries: int


def purge_calendar(session: Session, org: Organization, now: datetime) -> int:
    """Delete items outside the sync window, and every item of a connection whose copy has
    not been refreshed by a successful sync within the calendar retention.

    Sync leaves items that ended before the window for this job (listening/sync/mailbox.py).
    Series masters carry their first occurrence's times, which may lie long before
    the window while the series is current; only staleness removes them.
    """
    past = now - timedelta(days=org.window_past_days)
    future = now + timedelta(days=org.window_future_days)
    stale = now - timedelta(days=org.retention_calendar_days)
    outside_window = and_(
        CalendarItem.event_type != "seriesMaster",
        or_(func.coalesce(CalendarItem.end_utc, CalendarItem.start_utc) < past,
            CalendarItem.start_utc > future))
    # updated_at is not "last seen": sync skips unchanged events, so staleness is the connection's.
    stale_connections = select(Connection.id).where(
        Connection.org_id == org.id, or_(Connection.last_sync_at.is_(None), Connection.last_sync_at < stale))
    removed = session.execute(
        delete(CalendarItem).where(CalendarItem.org_id == org.id,
                                   or_(outside_window, CalendarItem.connection_id.in_(stale_connections)))
    ).rowcount
    if removed:
        audit.record(session, Action.retention_purged, None, None,
                     {"calendar_items": removed, "window_past_days": org.window_past_days,
                      "window_future_days": org.window_future_days,
                      "retention_calendar_days": org.retention_calendar_days}, org_id=org.id)
    return removed


def purge_audit(session: Session, org: Organization, now: datetime) -> int:
    """Remove the oldest entries (a prefix of the chain) that are older than the retention.

    The ``audit_purged`` entry is written BEFORE the delete, so it continues the
    chain from the current last entry even when every older entry goes; it names
    the last removed hash, which the first kept entry's prev_hash must equal
    (audit.verify anchors on it).
    """
    cutoff = now - timedelta(days=org.retention_audit_days)
    audit.lock_chain(session, org.id)
    in_org = AuditEvent.org_id == org.id
    first_kept = session.scalar(select(func.min(AuditEvent.seq)).where(in_org, AuditEvent.occurred_at >= cutoff))
    through = (first_kept - 1) if first_kept is not None else session.scalar(select(func.max(AuditEvent.seq)).where(in_org))
    span = session.execute(select(func.min(AuditEvent.seq).label("first"), func.count().label("n"))
                           .where(in_org, AuditEvent.seq <= (through or 0))).one()
    if not span.n:
        return 0
    last_hash = session.scalar(select(AuditEvent.hash).where(in_org, AuditEvent.seq == through))
    entry = audit.next_entry(session, org.id, Action.audit_purged, None, None,
                             audit.purge_details(span.first, through, last_hash, span.n, cutoff),
                             where=Origin())
    removed = session.execute(_PURGE, {
        "org": org.id, "through": through, "seq": entry.seq, "at": entry.occurred_at,
        "details": entry.details, "prev": entry.prev_hash, "hash": entry.hash, "kid": entry.key_id,
    }).scalar_one()
    if removed != span.n:
        # Rolls the whole purge back: a partial prefix would break the chain's anchor.
        raise RuntimeError(f"audit purge of organization {org.id} removed {removed}, expected {span.n}")
    return removed


_PURGE = text("SELECT audit_purge(:org, :through, :seq, :at, :details, :prev, :hash, :kid)").bindparams(
    bindparam("details", type_=JSONB))


def purge_sign_in_refusals(db: Database, now: datetime) -> int:
    """The operators' count of refused sign-ins keeps refusals.KEEP (no organization's
    retention setting applies to it)."""
    with db.unit_of_work() as session:
        return refusals.purge(session, now)


@dataclass(frozen=True)
class Summary:
    organizations: list[Report]
    sign_in_refusal_buckets: int


def run(services: Services, now: datetime) -> Summary:
    """Purge every organization, then the operators' refused sign-ins: one transaction per
    organization and kind (what the daily job and ``flask retention run`` do)."""
    db = services.db
    with db.unit_of_work() as session:
        org_ids = list(session.scalars(select(Organization.id).order_by(Organization.id)))
    reports = []
    for org_id in org_ids:
        counts = []
        for purge in (purge_calendar, purge_audit):
            with db.unit_of_work() as session:
                org = session.get(Organization, org_id)
                counts.append(purge(session, org, now) if org is not None else 0)
        reports.append(Report(org_id, *counts))
    return Summary(reports, purge_sign_in_refusals(db, now))
