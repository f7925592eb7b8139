"""Emptying the test database between tests.

The app's own role may not TRUNCATE, and the audit log refuses TRUNCATE from everyone, so
the superuser does it in replica mode (which skips ordinary triggers). tests/conftest.py's
``databases`` fixture sets ``ADMIN_URL`` for the run.
"""
from __future__ import annotations

import psycopg

ADMIN_URL: str | None = None


def empty_tables() -> None:
    from listening.core.models import Base

    assert ADMIN_URL, "the databases fixture sets ADMIN_URL"
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with psycopg.connect(ADMIN_URL) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
