"""The migrations build exactly the schema the models describe (the suite runs on the migrated
database, so a model change without its migration would otherwise pass here and fail in production)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from listening.core.models import Base
from tests.support.apps import services_of


def test_models_and_migrations_agree(app):
    with services_of(app).db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_entries_written_before_the_chain_was_keyed_still_verify_and_no_new_one_can_be(app, database_admin_url):
    """A real deployment has unkeyed entries: after the upgrade they verify in their old form, the
    chain continues keyed from them, and the database refuses any new entry without a key id."""
    import secrets
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import psycopg
    import pytest
    from alembic import command
    from sqlalchemy.orm import sessionmaker

    from listening import audit
    from listening.audit import Action
    from listening.cli.schema import alembic_config
    from listening.core import db, roles
    from tests.support.apps import services_of

    name = f"listening_legacy_{secrets.token_hex(4)}"
    admin = roles.with_database(database_admin_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = roles.with_database(database_admin_url, name)
    engine = None
    try:
        command.upgrade(alembic_config(url), "0004")
        with psycopg.connect(url) as conn:
            org_id = conn.execute("INSERT INTO organizations (tenant_id, name) VALUES ('t', 'Old') "
                                  "RETURNING id").fetchone()[0]
            prev = audit.GENESIS
            for seq in (1, 2, 3):
                entry = SimpleNamespace(org_id=org_id, seq=seq, occurred_at=datetime.now(UTC), action="calendar:sync",
                                        actor_id=None, subject_id=None, ip=None, user_agent=None,
                                        details={"n": seq}, key_id=None)
                entry.hash = audit.chain_hash(None, prev, entry)
                conn.execute("INSERT INTO audit_events (org_id, seq, occurred_at, action, details, prev_hash, hash) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                             (org_id, seq, entry.occurred_at, entry.action, psycopg.types.json.Jsonb(entry.details),
                              prev, entry.hash))
                prev = entry.hash
        command.upgrade(alembic_config(url), "head")
        engine = db.make_engine(url)
        with sessionmaker(engine, info={"keys": services_of(app).keys})() as session:
            assert audit.verify(session, org_id) == audit.Verdict(True, 3, first_seq=1)
            assert audit.record(session, Action.sync, None, None, org_id=org_id).key_id == "k1"
            session.commit()
            assert audit.verify(session, org_id) == audit.Verdict(True, 4, first_seq=1)
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO audit_events (org_id, seq, occurred_at, action, details, prev_hash, hash) "
                         "VALUES (%s, 5, now(), 'calendar:sync', '{}', %s, %s)", (org_id, prev, prev))
    finally:
        if engine is not None:
            engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
