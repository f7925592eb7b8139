"""Alembic environment: online migrations against the app's database."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from listening.core.db import normalise_url
from listening.core.models import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    # Run directly as `alembic upgrade head`: resolve the URL the way the app does.
    from listening.core.config import from_env
    from listening.core.db import Database

    settings = from_env()
    return Database(settings.database_url, settings.instance_path, owner_url=settings.database_owner_url).owner_url


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(normalise_url(_url()), poolclass=pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run them against a database")
run_migrations_online()
