"""Whether a sync's connection lock is wanted is a question about this database only.

pg_locks lists every database of the server; two deployments (or two test runs) sharing one
PostgreSQL use the same advisory lock numbers, and a waiter in the other database must not
stop this one's sync as if an unlink were waiting for it."""
from __future__ import annotations

import threading
import time

import psycopg
import pytest

from listening.core import locks
from tests.support.apps import services_of

CONNECTION_ID = 4242


def _waiter(url: str) -> tuple[psycopg.Connection, psycopg.Connection, threading.Thread]:
    """In the database at ``url``: one session holds the connection lock, another waits for it."""
    holder, waiter = psycopg.connect(url), psycopg.connect(url)
    holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (locks.CONNECTION, CONNECTION_ID))
    thread = threading.Thread(target=lambda: waiter.execute(
        "SELECT pg_advisory_xact_lock(%s, %s)", (locks.CONNECTION, CONNECTION_ID)), daemon=True)
    thread.start()
    return holder, waiter, thread


def _waiting(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return bool(conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = %s AND objid = %s", (locks.CONNECTION, CONNECTION_ID)).fetchone()[0])


@pytest.fixture
def other_database(databases):
    name = "listening_locks_other"
    with psycopg.connect(databases.admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield databases.admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(databases.admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("where", ["this database", "another database"])
def test_a_waiter_counts_only_in_this_database(app, databases, other_database, where):
    url = databases.admin if where == "this database" else other_database
    holder, waiter, thread = _waiter(url)
    try:
        deadline = time.monotonic() + 5
        while not _waiting(url):
            assert time.monotonic() < deadline, "the second session never waited"
            time.sleep(0.05)
        with services_of(app).db.engine.connect() as conn:
            assert locks.wanted(conn, CONNECTION_ID) is (where == "this database")
    finally:
        holder.rollback()
        thread.join(5)
        waiter.rollback()
        holder.close()
        waiter.close()
