"""The database: its engine, sessions, and the unit of work.

Nothing is created at import, nor when the app is built: the engine (and, with
no DATABASE_URL, the embedded PostgreSQL) comes into being on first use, so a
command that never touches the database never starts one. Jobs and commands
use ``Database.unit_of_work()``; a web request gets one Session of its own
(listening/web/deps.py) that its view commits once.
"""
from __future__ import annotations

import enum
import threading
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

STATEMENT_TIMEOUT_MS = 60_000


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
        connect_args={"connect_timeout": 10, "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"},
    )


class Fault(str, enum.Enum):
    """What kind of database failure an exception is: each is worded and handled on its own
    (listening/outlook/connection.py for a sync, listening/web/outages.py for a page)."""
    unreachable = "unreachable"  # no connection, or it was lost: the server is down or restarting
    deadlock = "deadlock"        # PostgreSQL cancelled this transaction to break a deadlock
    timeout = "timeout"          # a statement ran past statement_timeout, a lock past lock_timeout
    other = "other"              # anything else the database refused


# SQLSTATEs (PostgreSQL's appendix A) that mean the server went away or is not accepting
# connections yet: class 08 and the shutdown / start-up codes of class 57.
_GONE = ("57P01", "57P02", "57P03")
_TIMED_OUT = ("57014", "55P03")  # query_canceled (statement_timeout), lock_not_available


def fault_of(exc: BaseException) -> Fault | None:
    """The kind of database failure ``exc`` is, or None when it is not one. Takes SQLAlchemy's
    wrapped errors and psycopg's own (the sync's COPY runs on the raw driver connection)."""
    if isinstance(exc, sa_exc.TimeoutError):
        return Fault.timeout  # no pooled connection freed up in time: the pool is exhausted
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return Fault.unreachable
        if isinstance(exc.orig, psycopg.Error):
            return _psycopg_fault(exc.orig)
        # DB-API's own meaning of these two: the database, not the statement, failed.
        operational = isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
        return Fault.unreachable if operational else Fault.other
    if isinstance(exc, psycopg.Error):
        return _psycopg_fault(exc)
    return None


def _psycopg_fault(exc: psycopg.Error) -> Fault:
    state = exc.sqlstate
    if state == "40P01":
        return Fault.deadlock
    if state in _TIMED_OUT:
        return Fault.timeout
    if state in _GONE or (state or "").startswith("08"):
        return Fault.unreachable
    if state is None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return Fault.unreachable  # refused, reset or closed: libpq gives no SQLSTATE for those
    return Fault.other


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
        self._listeners: list[tuple[str, object]] = []

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
                    for name, hook in self._listeners:
                        event.listen(self._sessionmaker, name, hook)
                    self._engine = engine
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
