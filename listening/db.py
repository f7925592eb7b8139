"""Database engine and the per-request session.

Nothing is created at import. A request gets one Session (``db.session()``);
the view that changes data calls ``commit()`` once, and teardown rolls back
whatever was not committed. Jobs and CLI commands use ``unit_of_work()``.
"""
from __future__ import annotations

from contextlib import contextmanager

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
        # Bound every statement so a stuck query cannot hold a worker forever.
        connect_args={"connect_timeout": 10, "options": "-c statement_timeout=60000"},
    )


def init_app(app) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def sessionmaker_for(app=None) -> sessionmaker:
    return (app or current_app).extensions["db_sessionmaker"]


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
