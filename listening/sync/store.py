"""The calendar_items writes of a sync: what we hold, batched upserts, deletes. Never commits.

Every statement is scoped by connection (and so by organization: a connection
belongs to exactly one). Upserts skip a row whose change key and trim version did
not change, so an unchanged mailbox re-syncs without writing a single row.
"""
from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from operator import itemgetter

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from listening.core import locks
from listening.core.models import (
    CalendarItem,
    Connection,
    ConnectionState,
    Organization,
)

BATCH = 1000  # ids per DELETE statement


def try_lock(session: Session, connection_id: int) -> bool:
    """Hold the connection lock until this transaction ends (False: another sync, an unlink or
    an erasure has it). The lock order is listening/core/locks.py's.

    An advisory lock rather than ``SELECT ... FOR UPDATE`` on the connection row,
    because token refreshes save into that row from their own short transaction
    while this one is still open."""
    return locks.try_connection(session, connection_id)


def held_items(session: Session, connection_id: int) -> dict[str, tuple[str | None, datetime | None, str | None]]:
    """provider_event_id -> (change key, end, trim version) of every item stored for the connection.
    Plain tuples: 20,000 of them are built on every sync of a large mailbox."""
    rows = session.execute(
        select(CalendarItem.provider_event_id, CalendarItem.change_key, CalendarItem.end_utc,
               CalendarItem.trim_version)
        .where(CalendarItem.connection_id == connection_id))
    return {event_id: (change_key, end, version) for event_id, change_key, end, version in rows}


def _copy_type(column) -> str:
    """The PostgreSQL type binary COPY sends a column's values as ("integer", "character varying"...)."""
    return re.sub(r"\(.*\)", "", column.type.compile(dialect=postgresql.dialect())).lower()


_TABLE = CalendarItem.__table__
_KEY = next(c for c in _TABLE.constraints if c.name == "calendar_items_event_key")
# Every column but the generated id, in the table's order: what each row a sync writes holds,
# by name (see ``Writer``), and the order COPY sends them in.
_WRITTEN = tuple(c for c in _TABLE.columns if not c.primary_key)
COLUMNS = tuple(c.name for c in _WRITTEN)
_TYPES = tuple(_copy_type(c) for c in _WRITTEN)
_UPDATED = tuple(name for name in COLUMNS if name not in _KEY.columns.keys())
# A row (a dict by column name) as COPY takes it: one C call per row, the only place that knows the order.
_in_copy_order = itemgetter(*COLUMNS)
_NAMES = frozenset(COLUMNS)
_INCOMING = "sync_incoming"
_CREATE_INCOMING = (f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} ON COMMIT DROP AS "
                    f"SELECT {', '.join(COLUMNS)} FROM calendar_items WITH NO DATA")
_MERGE_ALL = (
    f"INSERT INTO calendar_items ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM {_INCOMING} "
    f"ON CONFLICT ON CONSTRAINT {_KEY.name} DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in _UPDATED))
# Belt and braces for a concurrent writer: never rewrite an identical version.
_MERGE_CHANGED = (_MERGE_ALL + " WHERE calendar_items.change_key IS DISTINCT FROM EXCLUDED.change_key"
                  " OR calendar_items.trim_version IS DISTINCT FROM EXCLUDED.trim_version")


class Writer:
    """Stores batches of rows keyed on (connection_id, provider_event_id).

    A row is a dict holding a value for each name of ``COLUMNS`` (every column of
    calendar_items but its id): a column added to the table must be given a value
    by the sync, or the first batch fails.

    PostgreSQL's bulk path, COPY: ``new`` rows go straight into calendar_items
    (they cannot conflict: the caller holds this connection's sync lock and read
    what is held inside the same transaction); ``changed`` rows go into a
    transaction-scoped temporary table and are merged by one INSERT ... ON CONFLICT
    DO UPDATE. The ORM's bulk insert cost about 280 µs per row here, more than the
    rest of a sync together (bench/sync_bench.py).

    Each batch is written on a helper thread, one at a time and in order, so the
    database works on one page while we trim and encrypt the next. Until the
    writer is closed nobody else may use the session. Nothing commits here.
    """

    def __init__(self, session: Session, rewrite: bool = False):
        """``rewrite``: changed rows replace the stored ones even when their change key and
        trim version are the same (``flask sync --retrim``)."""
        self._driver = session.connection().connection.driver_connection  # psycopg, in our transaction
        self._merge = _MERGE_ALL if rewrite else _MERGE_CHANGED
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-write")
        self._pending: Future | None = None

    def write(self, new: list[dict], changed: list[dict]) -> None:
        """Queue one batch; waits for the previous one first (its error is raised here)."""
        self._finish_pending()
        for rows in (new, changed):
            if rows and rows[0].keys() != _NAMES:  # one maker builds a batch: its first row speaks for all
                raise ValueError(f"a calendar_items row must name exactly {sorted(_NAMES)}, "
                                 f"not {sorted(rows[0])}")
        if new or changed:
            self._pending = self._pool.submit(_write, self._driver, new, changed, self._merge)

    def _finish_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish_pending()
        finally:
            self._pool.shutdown(wait=True)  # never leave a statement running on the session


def _write(driver, new: list[dict], changed: list[dict], merge: str) -> None:
    with driver.cursor() as cursor:
        if new:
            _copy(cursor, "calendar_items", new)
        if changed:
            cursor.execute(_CREATE_INCOMING)
            _copy(cursor, _INCOMING, changed)
            cursor.execute(merge)
            cursor.execute(f"TRUNCATE {_INCOMING}")


def _copy(cursor, table: str, rows: list[dict]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_TYPES)
        for row in rows:
            copy.write_row(_in_copy_order(row))


def delete_items(session: Session, connection_id: int, provider_event_ids: list[str]) -> int:
    deleted = 0
    for i in range(0, len(provider_event_ids), BATCH):
        result = session.execute(
            delete(CalendarItem).where(CalendarItem.connection_id == connection_id,
                                       CalendarItem.provider_event_id.in_(provider_event_ids[i:i + BATCH]))
            .execution_options(synchronize_session=False))
        deleted += result.rowcount
    return deleted


def linked_connection_ids(session: Session) -> list[int]:
    """Every linked connection of every organization that has sync turned on, by id."""
    return list(session.scalars(
        select(Connection.id).join(Organization, Organization.id == Connection.org_id)
        .where(Connection.state == ConnectionState.linked, Organization.sync_enabled.is_(True))
        .order_by(Connection.id)))


def due_connection_ids(session: Session, now: datetime, limit: int = 5000) -> list[int]:
    """Linked connections whose next sync is due (or never planned), oldest first, across all
    organizations: the system sweep is the one caller that is not scoped to one org."""
    return list(session.scalars(
        select(Connection.id).join(Organization, Organization.id == Connection.org_id)
        .where(Connection.state == ConnectionState.linked, Organization.sync_enabled.is_(True),
               or_(Connection.next_sync_at.is_(None), Connection.next_sync_at <= now))
        .order_by(Connection.next_sync_at.asc().nulls_first(), Connection.id).limit(limit)))
