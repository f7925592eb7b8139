"""Database engine and the per-request session.

Nothing is created at import, nor when the app is built: the engine (and, with
no DATABASE_URL, the embedded PostgreSQL) comes into being on first use, so a
command that never touches the database never starts one. A request gets one
Session (``db.session()``); the view that changes data calls ``commit()`` once,
and teardown rolls back whatever was not committed. Jobs and CLI commands use
``unit_of_work()``.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, g
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// URLs; we always drive psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    return create_engine(
        normalise_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=10,
        # A failed statement's log line and exception never carry its values (emails, names).
        hide_parameters=True,
        # Bound every statement so a stuck query cannot hold a worker forever.
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=60000"},
    )


class Database:
    """The app's database, opened on first use (thread-safe: gunicorn threads race for it).

    ``url`` is the runtime role's (DATABASE_URL), ``owner_url`` the migrations' (unset: the
    same). Every Session carries ``keys`` in ``session.info["keys"]``: the audit chain's
    HMAC keys come from it (listening/audit/chain.py). With ``refuse_privileged`` the first
    use checks that the role is neither a superuser nor the tables' owner (production)."""

    def __init__(self, url: str | None, instance_path: Path, *, keys=None, owner_url: str | None = None,
                 refuse_privileged: bool = False):
        self._url, self._instance_path, self._owner_url = url, instance_path, owner_url
        self._keys, self._refuse_privileged = keys, refuse_privileged
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessionmaker: sessionmaker | None = None

    @property
    def url(self) -> str:
        """DATABASE_URL, or the embedded PostgreSQL's (started here if it is not running)."""
        if self._url is None:
            with self._lock:
                if self._url is None:
                    from listening.core import embedded

                    self._owner_url, self._url = embedded.postgres_urls(self._instance_path)
        return self._url

    @property
    def owner_url(self) -> str:
        """DATABASE_OWNER_URL, the embedded server's owner, or (unset) the runtime URL."""
        url = self.url
        return self._owner_url or url

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.url
            with self._lock:
                if self._engine is None:
                    engine = make_engine(url)
                    if self._refuse_privileged:
                        from listening.core import roles

                        roles.refuse_privileged(engine)
                    self._sessionmaker = sessionmaker(engine, expire_on_commit=False,
                                                      info={"keys": self._keys})
                    self._engine = engine
        return self._engine

    @property
    def sessionmaker(self) -> sessionmaker:
        self.engine  # noqa: B018 - opens it
        return self._sessionmaker

    @property
    def opened(self) -> bool:
        return self._engine is not None

    def dispose(self, close: bool = True) -> None:
        """Drop pooled connections (after a fork, or when a test is done with the app)."""
        if self._engine is not None:
            self._engine.dispose(close=close)


def init_app(app) -> None:
    from listening.core import crypto

    settings = app.config["SETTINGS"]
    database = Database(settings.database_url, settings.instance_path, keys=crypto.ring(app),
                        owner_url=settings.database_owner_url, refuse_privileged=settings.production)
    app.extensions["db"] = database
    if settings.production:
        # Opened now, so a role that could lift the audit log's protections stops the app
        # before it serves anything.
        database.engine  # noqa: B018
    app.teardown_appcontext(_close_session)


def database(app=None) -> Database:
    return (app or current_app).extensions["db"]


def engine_for(app=None) -> Engine:
    return database(app).engine


def sessionmaker_for(app=None) -> sessionmaker:
    return database(app).sessionmaker


def session() -> Session:
    if "db_session" not in g:
        g.db_session = sessionmaker_for()()
    return g.db_session


def _close_session(_exc) -> None:
    sess = g.pop("db_session", None)
    if sess is not None:
        sess.close()  # rolls back anything not committed


@contextmanager
def unit_of_work(app=None):
    """A session that commits only if the block finishes; for jobs and commands."""
    sess = sessionmaker_for(app)()
    try:
        yield sess
        sess.commit()
    except BaseException:
        sess.rollback()
        raise
    finally:
        sess.close()
