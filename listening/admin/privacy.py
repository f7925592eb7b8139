"""Per-person export (everything held about someone, as one JSON document) and erasure.

Erasure removes the person's tokens, stored calendar items and 1-on-1 attachments
and clears their personal fields from the directory. Audit entries name people
by internal id only (the hash covers that id), so no audit row is rewritten and
the chain still verifies; the log then shows a pseudonym.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core import crypto, locks
from listening.core.models import (
    AuditEvent,
    CalendarItem,
    Connection,
    OneOnOne,
    Organization,
    Person,
)
from listening.one_on_ones import announce
from listening.webhooks import outbox


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _directory_record(person: Person) -> dict:
    return {"id": person.id, "email": person.email, "display_name": person.display_name,
            "aliases": list(person.aliases or []), "oid": person.oid, "role": person.role.value,
            "manager_id": person.manager_id, "time_zone": person.time_zone, "active": person.active,
            "erased_at": _iso(person.erased_at), "created_at": _iso(person.created_at),
            "updated_at": _iso(person.updated_at)}


def _connection_record(conn: Connection | None) -> dict | None:
    """The connection's state; the tokens are never exported (they are credentials, not data)."""
    if conn is None:
        return None
    return {"id": conn.id, "state": conn.state.value, "state_reason": conn.state_reason,
            "ms_tenant_id": conn.ms_tenant_id, "ms_oid": conn.ms_oid, "account_email": conn.account_email,
            "scopes": conn.scopes, "has_tokens": conn.refresh_token is not None,
            "access_expires_at": _iso(conn.access_expires_at),
            "admin_consent_requested_at": _iso(conn.admin_consent_requested_at),
            "linked_at": _iso(conn.linked_at), "last_sync_at": _iso(conn.last_sync_at),
            "last_sync_outcome": conn.last_sync_outcome, "next_sync_at": _iso(conn.next_sync_at),
            "failure_count": conn.failure_count}


def _calendar_record(item: CalendarItem, ring: crypto.KeyRing) -> dict:
    record = {"provider_event_id": item.provider_event_id, "series_id": item.series_id,
              "event_type": item.event_type, "start_utc": _iso(item.start_utc), "end_utc": _iso(item.end_utc),
              "is_cancelled": item.is_cancelled, "updated_at": _iso(item.updated_at)}
    try:
        plain = ring.decrypt(item.provider_data, crypto.aad_for("event", item.connection_id,
                                                                item.provider_event_id))
        record["data"] = json.loads(plain)
    except (crypto.CryptoError, ValueError) as err:
        # Said in the export, never skipped silently: the reader must know an item is missing.
        record["data"], record["data_error"] = None, f"could not be decrypted: {err}"
    return record


def _one_on_one_record(pair: OneOnOne) -> dict:
    return {"id": pair.id, "manager_id": pair.manager_id, "report_id": pair.report_id,
            "series_id": pair.series_id, "status": pair.status.value,
            "attention_reason": pair.attention_reason, "attention_code": pair.attention_code,
            "meeting_words": pair.meeting_words, "replacement_series_id": pair.replacement_series_id,
            "attached_at": _iso(pair.attached_at), "checked_at": _iso(pair.checked_at)}


def _audit_record(entry: AuditEvent, person_id: int) -> dict:
    """An entry about the person; the address and browser are the actor's, so they are
    exported only when the person was the actor."""
    own = entry.actor_id == person_id
    return {"seq": entry.seq, "occurred_at": _iso(entry.occurred_at), "action": entry.action,
            "actor_id": entry.actor_id, "subject_id": entry.subject_id,
            "ip": str(entry.ip) if own and entry.ip is not None else None,
            "user_agent": entry.user_agent if own else None,
            "details": entry.details, "hash": entry.hash.hex()}


def connection_of(session: Session, person: Person) -> Connection | None:
    return session.scalar(select(Connection).where(Connection.org_id == person.org_id,
                                                   Connection.person_id == person.id))


_connection = connection_of


def _pairs_of(person: Person):
    return (OneOnOne.org_id == person.org_id) & or_(OneOnOne.manager_id == person.id,
                                                     OneOnOne.report_id == person.id)


def export(session: Session, person: Person, ring: crypto.KeyRing, now: datetime) -> dict:
    """Everything held about ``person`` (already scoped to the caller's organization)."""
    org = session.get(Organization, person.org_id)
    conn = _connection(session, person)
    items = [] if conn is None else session.scalars(
        select(CalendarItem).where(CalendarItem.org_id == person.org_id, CalendarItem.connection_id == conn.id)
        .order_by(CalendarItem.start_utc, CalendarItem.id))
    pairs = session.scalars(select(OneOnOne).where(_pairs_of(person)).order_by(OneOnOne.id))
    entries = session.scalars(select(AuditEvent).where(
        AuditEvent.org_id == person.org_id,
        or_(AuditEvent.actor_id == person.id, AuditEvent.subject_id == person.id)).order_by(AuditEvent.seq))
    return {
        "exported_at": _iso(now),
        "organization": {"id": org.id, "tenant_id": org.tenant_id, "name": org.name},
        "person": _directory_record(person),
        "connection": _connection_record(conn),
        "calendar_items": [_calendar_record(item, ring) for item in items],
        "one_on_ones": [_one_on_one_record(pair) for pair in pairs],
        "audit_entries": [_audit_record(entry, person.id) for entry in entries],
    }


@dataclass(frozen=True)
class Erasure:
    connection_removed: bool
    calendar_items: int
    one_on_ones: int


ERASE_WAIT_MS = 4000  # as unlink's (listening/outlook/linking.py)


class ErasureError(ValueError):
    """This erasure is refused (the message says why)."""


def erasure_refused(person: Person, actor: Person) -> str | None:
    """Why ``actor`` may not erase ``person``, or None."""
    if person.id == actor.id:
        return "You cannot erase yourself; ask another HR admin."
    if person.erased_at is not None:
        return f"person #{person.id} was already erased."
    return None


def hold(session: Session, conn: Connection) -> None:
    """The connection lock, then its row, for the rest of the transaction (what erasure takes
    first; the caller may take it earlier, to read what erasure must end elsewhere)."""
    if not locks.connection_and_row(session, conn.id, ERASE_WAIT_MS):
        raise ErasureError("A sync of this person's calendar was still stopping, so nothing was "
                           "erased. Try again in a moment.")


def erase(session: Session, person: Person, actor: Person, now: datetime) -> Erasure:
    """Remove what is held about ``person`` and record it; the caller commits once."""
    refusal = erasure_refused(person, actor)
    if refusal:
        raise ErasureError(refusal)
    conn = _connection(session, person)
    items = 0
    if conn is not None:
        # The connection lock first (listening/core/locks.py): a sync of this calendar gives way.
        hold(session, conn)
        items = session.scalar(select(func.count()).select_from(CalendarItem)
                               .where(CalendarItem.connection_id == conn.id))
        session.execute(delete(CalendarItem).where(CalendarItem.connection_id == conn.id))
        session.delete(conn)  # its tokens go with the row
    attached = list(session.scalars(select(OneOnOne).where(_pairs_of(person)).order_by(OneOnOne.id)))
    # Announced without the erased person's address: it must not leave now of all times.
    announce.changed(session, announce.DETACHED, attached, now, emails={person.id: None})
    pairs = session.execute(delete(OneOnOne).where(_pairs_of(person))).rowcount
    outbox.forget_email(session, person.org_id, person.email)
    person.display_name = person.email = person.oid = None
    person.aliases, person.time_zone = [], "UTC"
    person.active, person.erased_at = False, now
    person.end_sessions()
    result = Erasure(conn is not None, items, pairs)
    audit.record(session, Action.person_erased, actor, person.id, vars(result), org_id=person.org_id)
    session.flush()
    return result


@dataclass(frozen=True)
class Held:
    """What is held about a person, for the page that offers export and erasure."""
    connection: Connection | None
    calendar_items: int
    one_on_ones: int
    audit_entries: int


def held(session: Session, person: Person) -> Held:
    conn = _connection(session, person)
    items = 0 if conn is None else session.scalar(
        select(func.count()).select_from(CalendarItem).where(CalendarItem.connection_id == conn.id))
    pairs = session.scalar(select(func.count()).select_from(OneOnOne).where(_pairs_of(person)))
    entries = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.org_id == person.org_id,
        or_(AuditEvent.actor_id == person.id, AuditEvent.subject_id == person.id)))
    return Held(conn, items, pairs, entries)
