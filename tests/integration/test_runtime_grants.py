"""The runtime role's privileges, table by table (listening/core/roles.py's RUNTIME_GRANTS)."""
import psycopg
import pytest

from listening.core import roles
from listening.core.roles import RUNTIME_GRANTS
from tests.support import factories as f

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# Rows these tables lose go with a parent (a foreign key's cascade runs as the owner), through
# audit_purge, or never.
NO_DELETE = ["organizations", "people", "audit_events", "calendar_deltas", "api_keys", "webhook_deliveries",
             "alembic_version"]


def _runtime(databases) -> str:
    return psycopg.conninfo.conninfo_to_dict(databases.runtime)["user"]


def _held(conn) -> dict[str, tuple[str, ...]]:
    return {table: tuple(p for p in PRIVILEGES if conn.execute(
        "SELECT has_table_privilege(current_user, %s, %s)", (table, p)).fetchone()[0])
        for table in RUNTIME_GRANTS}


def test_the_runtime_role_holds_exactly_what_the_map_gives(databases):
    """Granting again changes nothing (it runs after every upgrade), and every table holds the
    map's privileges, no more: none of TRUNCATE, REFERENCES or TRIGGER anywhere."""
    roles.grant_runtime(databases.owner, _runtime(databases))
    with psycopg.connect(databases.runtime) as conn:
        assert _held(conn) == RUNTIME_GRANTS
        sequences = [name for (name,) in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' "
            "AND c.relnamespace = current_schema()::regnamespace")]
        assert "organizations_id_seq" in sequences
        for sequence in sequences:
            usage, read = conn.execute("SELECT has_sequence_privilege(current_user, %s, 'USAGE'), "
                                       "has_sequence_privilege(current_user, %s, 'SELECT')",
                                       (sequence, sequence)).fetchone()
            assert (sequence, usage, read) == (sequence, True, False)


def test_the_runtime_role_cannot_delete_an_organization(app, session, database_url):
    org = f.org(session, name="Kept")
    f.person(session, org)
    session.commit()
    with psycopg.connect(database_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table organizations"):
            conn.execute("DELETE FROM organizations WHERE id = %s", (org.id,))
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table people"):
            conn.execute("DELETE FROM people WHERE org_id = %s", (org.id,))
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM people WHERE org_id = %s", (org.id,)).fetchone()[0] == 1


@pytest.mark.parametrize("table", NO_DELETE)
def test_the_runtime_role_may_not_delete_from(databases, table):
    with psycopg.connect(databases.runtime) as conn, pytest.raises(
            psycopg.errors.InsufficientPrivilege, match=f"permission denied for table {table}"):
        conn.execute(f"DELETE FROM {table}")


@pytest.fixture
def unmapped_table(databases):
    name = "listening_unmapped_probe"
    with psycopg.connect(databases.owner, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (id integer)")
    try:
        yield name
    finally:
        with psycopg.connect(databases.owner, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_table_the_map_does_not_name_stops_the_grants(databases, unmapped_table):
    """A migration that adds a table without deciding its grants fails here, not in production;
    the grants already in place stay as they were (one transaction)."""
    with pytest.raises(roles.UnmappedTableError, match=f"table\\(s\\) {unmapped_table} have no entry"):
        roles.grant_runtime(databases.owner, _runtime(databases))
    with psycopg.connect(databases.runtime) as conn:
        assert _held(conn) == RUNTIME_GRANTS


def test_flask_db_upgrade_names_the_unmapped_table(app, unmapped_table):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 2
    assert unmapped_table in result.output and "RUNTIME_GRANTS" in result.output


def test_a_mapped_table_the_schema_lacks_is_named_too():
    tables = set(RUNTIME_GRANTS) - {"api_keys"}
    with pytest.raises(roles.UnmappedTableError, match="names table\\(s\\) api_keys that the schema lacks"):
        roles._check_mapped(tables)
