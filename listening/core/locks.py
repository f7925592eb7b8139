"""The connection lock, and the one order in which every transaction takes its locks.

A PostgreSQL advisory lock per connection, held until the transaction ends, says
"this connection's calendar copy is being changed or removed". The sync holds it
for its whole transaction; unlink and erasure take it before deleting.

Lock order, everywhere (a transaction takes what it needs in this order and never
goes back to an earlier step, so no two transactions can wait on each other):

1. the connection lock (``CONNECTION``, connection id): sync, unlink, erasure;
2. rows, in this order: the connection row, its calendar_items, the one_on_ones;
3. the organization's audit chain (listening/audit/chain.py, taken by ``audit.record``),
   last, just before the commit.

Token refreshes update the connection row in short transactions of their own and take
no advisory lock; a subscription's upkeep locks the connection row (FOR KEY SHARE) once
Graph has made the subscription, then step 3; the daily audit purge takes only step 3.

A transaction that holds the connection lock for long (a sync reading a slow mailbox)
gives way: it watches for anyone waiting on the lock (``wanted``) and rolls back
(listening/sync/watch.py), so unlink and erasure never wait more than a few seconds.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from listening.core import db

CONNECTION = 7_000_005  # advisory lock namespace (the first key); the connection id is the second


def try_connection(session: Session, connection_id: int) -> bool:
    """Take the connection lock until this transaction ends, if nobody holds it."""
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:space, :id)"),
                               {"space": CONNECTION, "id": connection_id}))


def connection(session: Session, connection_id: int, wait_ms: int) -> bool:
    """Take the connection lock until this transaction ends, waiting at most ``wait_ms``;
    False when it could not be had in time. The same bound then applies to every other
    lock this transaction waits for (PostgreSQL's ``lock_timeout``), so the caller can
    answer a person promptly whatever else is running."""
    session.execute(text(f"SET LOCAL lock_timeout = {int(wait_ms)}"))
    try:
        with session.begin_nested():
            session.execute(text("SELECT pg_advisory_xact_lock(:space, :id)"),
                            {"space": CONNECTION, "id": connection_id})
    except OperationalError as exc:
        if db.fault_of(exc) is db.Fault.timeout:
            return False
        raise
    return True


def connection_and_row(session: Session, connection_id: int, wait_ms: int) -> bool:
    """``connection``, then the connection's row (FOR UPDATE), both within ``wait_ms``; False
    when either could not be had in time. Unlink and erasure take both before they read what
    they must end at Microsoft (the Graph subscription): an upkeep that wrote one is waited
    for, and one that comes later finds the row gone (listening/notifications/subscriptions.py)."""
    if not connection(session, connection_id, wait_ms):
        return False
    try:
        with session.begin_nested():
            session.execute(text("SELECT 1 FROM connections WHERE id = :id FOR UPDATE"), {"id": connection_id})
    except OperationalError as exc:
        if db.fault_of(exc) is db.Fault.timeout:
            return False
        raise
    return True


def wanted(conn, connection_id: int) -> bool:
    """Is some other transaction waiting for this connection's lock? ``conn`` is any
    SQLAlchemy connection (not the holder's: it is busy with its own statements)."""
    return bool(conn.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid = :space AND objid = :id AND objsubid = 2 "
        # pg_locks lists the whole server: another database's lock of the same number (another
        # deployment, or a parallel test run) is not ours.
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"),
        {"space": CONNECTION, "id": connection_id}))
