"""The database: its engine, sessions, and the unit of work.

Nothing is created at import, nor when the app is built: the engine (and, with
no DATABASE_URL, the embedded PostgreSQL) comes into being on first use, so a
command that never touches the database never starts one. Jobs and commands
use ``Database.unit_of_work()``; a web request gets one Session of its own
(listening/web/deps.py) that its view commits once.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker


def normalise_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// URLs; we always drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    return create_engine(
        normalise_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=10,
        # Bound every statement so a stuck query cannot hold a worker forever.
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=60000"},
    )


class Database:
    """The app's database, opened on first use (thread-safe: gunicorn threads race for it)."""

    def __init__(self, url: str | None, instance_path: Path):
        self._url, self._instance_path = url, instance_path
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker | None = None
        self._listeners: list[tuple[str, object]] = []

    @property
    def url(self) -> str:
        """DATABASE_URL, or the embedded PostgreSQL's (started here if it is not running)."""
        if self._url is None:
            with self._lock:
                if self._url is None:
                    from listening.core import embedded

                    self._url = embedded.postgres_url(self._instance_path)
        return self._url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.url
            with self._lock:
                if self._engine is None:
                    self._engine = make_engine(url)
                    self._sessionmaker = sessionmaker(self._engine, expire_on_commit=False)
                    for name, hook in self._listeners:
                        event.listen(self._sessionmaker, name, hook)
        return self._engine

    @property
    def sessionmaker(self) -> sessionmaker:
        self.engine  # noqa: B018 - opens it
        return self._sessionmaker

    @property
    def opened(self) -> bool:
        return self._engine is not None

    def listen(self, name: str, hook) -> None:
        """A session event hook (e.g. "after_commit") for every session of this database, so
        that work that must follow a commit (enqueueing a job) cannot run for a rolled-back one."""
        with self._lock:
            self._listeners.append((name, hook))
            if self._sessionmaker is not None:
                event.listen(self._sessionmaker, name, hook)

    @contextmanager
    def unit_of_work(self):
        """A session that commits only if the block finishes; for jobs and commands."""
        sess = self.sessionmaker()
        try:
            yield sess
            sess.commit()
        except BaseException:
            sess.rollback()
            raise
        finally:
            sess.close()

    def dispose(self, close: bool = True) -> None:
        """Drop pooled connections (after a fork, or when a test is done with the app)."""
        if self._engine is not None:
            self._engine.dispose(close=close)


