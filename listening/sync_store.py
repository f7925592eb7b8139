"""The calendar_items writes of a sync: what we hold, batched upserts, deletes. Never commits.

Every statement is scoped by connection (and so by organization: a connection
belongs to exactly one). Upserts skip a row whose change key did not change,
so an unchanged mailbox re-syncs without writing a single row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from listening.models import CalendarItem, Connection, ConnectionState, Organization

BATCH = 1000
_LOCK_SPACE = 7_000_005  # advisory lock namespace: one sync per connection at a time
_UPDATED = ("series_id", "event_type", "start_utc", "end_utc", "is_cancelled", "change_key",
            "provider_data", "updated_at")


@dataclass(frozen=True, slots=True)
class Held:
    change_key: str | None
    end_utc: datetime | None


def try_lock(session: Session, connection_id: int) -> bool:
    """Hold the connection's sync lock until this transaction ends (False: another sync has it).

    An advisory lock rather than ``SELECT ... FOR UPDATE`` on the connection row,
    because token refreshes save into that row from their own short transaction
    while this one is still open."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:space, :id)"),
                               {"space": _LOCK_SPACE, "id": connection_id}))


def held_items(session: Session, connection_id: int) -> dict[str, Held]:
    """provider_event_id -> (change key, end) of every item stored for the connection."""
    rows = session.execute(
        select(CalendarItem.provider_event_id, CalendarItem.change_key, CalendarItem.end_utc)
        .where(CalendarItem.connection_id == connection_id))
    return {row.provider_event_id: Held(row.change_key, row.end_utc) for row in rows}


def _upsert_statement():
    stmt = insert(CalendarItem)
    return stmt.on_conflict_do_update(
        constraint="calendar_items_event_key",
        set_={name: stmt.excluded[name] for name in _UPDATED},
        # Belt and braces for a concurrent writer: never rewrite an identical version.
        where=CalendarItem.change_key.is_distinct_from(stmt.excluded.change_key))


def upsert_items(session: Session, rows: list[dict]) -> None:
    """Insert or update rows keyed on (connection_id, provider_event_id), BATCH at a time."""
    statement = _upsert_statement()
    for i in range(0, len(rows), BATCH):
        session.execute(statement, rows[i:i + BATCH])


def delete_items(session: Session, connection_id: int, provider_event_ids: list[str]) -> int:
    deleted = 0
    for i in range(0, len(provider_event_ids), BATCH):
        result = session.execute(
            delete(CalendarItem).where(CalendarItem.connection_id == connection_id,
                                       CalendarItem.provider_event_id.in_(provider_event_ids[i:i + BATCH]))
            .execution_options(synchronize_session=False))
        deleted += result.rowcount
    return deleted


def due_connection_ids(session: Session, now: datetime, limit: int = 5000) -> list[int]:
    """Linked connections whose next sync is due (or never planned), oldest first, across all
    organizations: the system sweep is the one caller that is not scoped to one org."""
    return list(session.scalars(
        select(Connection.id).join(Organization, Organization.id == Connection.org_id)
        .where(Connection.state == ConnectionState.linked, Organization.sync_enabled.is_(True),
               or_(Connection.next_sync_at.is_(None), Connection.next_sync_at <= now))
        .order_by(Connection.next_sync_at.asc().nulls_first(), Connection.id).limit(limit)))
