"""The two database roles: an owner that runs the migrations, and the runtime role that web,
worker and clock connect as.

The runtime role gets its privileges from ``grant_runtime``, which ``flask db upgrade`` runs
after every upgrade (a grants step rather than GRANTs inside a migration: the role's name is
the deployment's, not the schema's). It holds on each table only what ``RUNTIME_GRANTS`` names,
the statements the app itself runs there, and no more: a table of the schema that the map does
not name stops ``grant_runtime`` with that table's name, so a migration that adds a table
decides the runtime role's privileges on it in this module. On the audit log the role may only
INSERT and SELECT; it never owns a table, so it cannot alter or disable a trigger, and it holds
no TRUNCATE. Old audit entries leave only through ``audit_purge``, a SECURITY DEFINER function
of the owner (migrations/versions/0008_audit_roles_and_keys.py).
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from listening.core.config import ConfigError

_READ_WRITE = ("SELECT", "INSERT", "UPDATE")
_ALL = _READ_WRITE + ("DELETE",)

# What the runtime role may do on each table of the schema: what web, worker, clock and the
# flask commands (which connect as this role too, except ``db upgrade``) run there. Rows that
# go only with their parent are removed by the foreign key's ON DELETE CASCADE, which runs as
# the table's owner, so the runtime role needs no DELETE on them.
RUNTIME_GRANTS: dict[str, tuple[str, ...]] = {
    # ``flask org add`` adds one and the settings page changes it; Listening never deletes one
    # (its audit entries must outlive it, and their foreign key refuses).
    "organizations": _READ_WRITE,
    # Deactivated by an import, or erased by clearing the personal fields: a person's row
    # stays, since audit entries name people by id.
    "people": _READ_WRITE,
    # Append-only; old entries leave through audit_purge, which runs as the owner.
    "audit_events": ("SELECT", "INSERT"),
    # INSERT ... ON CONFLICT DO UPDATE counts a refusal; the retention job deletes old hours.
    "sign_in_refusals": _ALL,
    "connections": _ALL,  # unlink and erasure delete the row, tokens and all
    "calendar_items": _ALL,  # sync, retention, unlink and erasure delete copies
    "graph_subscriptions": _ALL,  # one ended, expired or unknown to Microsoft is deleted
    "calendar_deltas": _READ_WRITE,  # goes with its connection (cascade)
    "one_on_ones": _ALL,  # detach and erasure
    "api_keys": _READ_WRITE,  # revoking sets revoked_at: the row stays, named in the audit log
    "webhook_endpoints": _ALL,  # removed on the API page or by ``flask webhooks remove``
    # Erasure rewrites payloads without the address; the webhooks job deletes old events.
    "webhook_events": _ALL,
    "webhook_deliveries": _READ_WRITE,  # go with their event or endpoint (cascade)
    "alembic_version": (),  # the owner's bookkeeping: nothing the app runs reads it
}

# The one function the runtime role may call.
PURGE_FUNCTION = "audit_purge(integer, bigint, bigint, timestamp with time zone, jsonb, bytea, bytea, text)"


def with_user(url: str, user: str, password: str | None = None) -> str:
    """The same server and database, as another role."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def libpq(url: str) -> str:
    """A URL psycopg itself accepts (SQLAlchemy's driver suffix removed)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def user_of(url: str) -> str | None:
    with psycopg.connect(libpq(url), connect_timeout=10) as conn:
        return conn.execute("SELECT current_user").fetchone()[0]


def create_roles(admin_url: str, database: str, owner: str, runtime: str,
                 password: str | None = None) -> None:
    """The owner and runtime roles (LOGIN, nothing else) and a database the owner owns;
    each skipped when it exists. Roles are cluster-wide: name them per database."""
    with psycopg.connect(libpq(admin_url), autocommit=True, connect_timeout=10) as conn:
        for role in (owner, runtime):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                statement = sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                    sql.Identifier(role))
                if password:
                    statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
                conn.execute(statement)
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(owner)))


def drop_roles(admin_url: str, *roles: str) -> None:
    with psycopg.connect(libpq(admin_url), autocommit=True, connect_timeout=10) as conn:
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


class UnmappedTableError(ConfigError):
    """The schema and RUNTIME_GRANTS do not name the same tables."""


def _tables(conn, schema: str) -> set[str]:
    """Every table-like relation of the schema (what ALL TABLES IN SCHEMA covers)."""
    return {name for (name,) in conn.execute(
        "SELECT c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schema,))}


def _sequences_of(conn, schema: str, tables: list[str]) -> list[str]:
    """The sequences owned by these tables' columns (serial and identity ids)."""
    return [name for (name,) in conn.execute(
        "SELECT DISTINCT s.relname FROM pg_catalog.pg_class s "
        "JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace "
        "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass "
        " AND d.objid = s.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass "
        " AND d.deptype IN ('a', 'i') "
        "JOIN pg_catalog.pg_class t ON t.oid = d.refobjid "
        "WHERE s.relkind = 'S' AND n.nspname = %s AND t.relname = ANY(%s) "
        "ORDER BY 1", (schema, tables))]


def _check_mapped(tables: set[str]) -> None:
    """Raise UnmappedTableError naming every table the schema and the map disagree on."""
    unmapped = sorted(tables - RUNTIME_GRANTS.keys())
    missing = sorted(RUNTIME_GRANTS.keys() - tables)
    problems = []
    if unmapped:
        problems.append(f"table(s) {', '.join(unmapped)} have no entry in RUNTIME_GRANTS "
                        "(listening/core/roles.py): decide what the runtime role may do there")
    if missing:
        problems.append(f"RUNTIME_GRANTS names table(s) {', '.join(missing)} that the schema lacks")
    if problems:
        raise UnmappedTableError("; ".join(problems))


def grant_runtime(owner_url: str, runtime: str) -> None:
    """What the runtime role may do, granted by the owner (idempotent; after every upgrade).

    One transaction: the role never runs without its privileges in between, and a table the map
    does not name changes nothing and raises UnmappedTableError."""
    with psycopg.connect(libpq(owner_url), connect_timeout=10) as conn:
        schema, database = conn.execute("SELECT current_schema(), current_database()").fetchone()
        _check_mapped(_tables(conn, schema))
        ident = {"schema": sql.Identifier(schema), "role": sql.Identifier(runtime),
                 "database": sql.Identifier(database)}
        for statement in (
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
            "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
            # A restore without privileges (pg_restore -x) leaves the function open to PUBLIC.
            "REVOKE ALL ON FUNCTION " + PURGE_FUNCTION + " FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION " + PURGE_FUNCTION + " TO {role}",
        ):
            conn.execute(sql.SQL(statement).format(**ident))
        for table, privileges in RUNTIME_GRANTS.items():
            if privileges:
                conn.execute(sql.SQL("GRANT {} ON {}.{} TO {}").format(
                    sql.SQL(", ").join(sql.SQL(p) for p in privileges), ident["schema"],
                    sql.Identifier(table), ident["role"]))
        # nextval() for the ids of the rows it adds; no SELECT, since nothing reads currval.
        inserted = [table for table, privileges in RUNTIME_GRANTS.items() if "INSERT" in privileges]
        for sequence in _sequences_of(conn, schema, inserted):
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {}.{} TO {}").format(
                ident["schema"], sql.Identifier(sequence), ident["role"]))


def runtime_role_problem(conn) -> str | None:
    """Why this connection's role must not run the app, or None: a superuser, or a role that
    owns (or may become the owner of) the audit log could lift its protections."""
    row = conn.exec_driver_sql(
        "SELECT r.rolsuper, r.rolbypassrls, "
        "(SELECT pg_has_role(current_user, c.relowner, 'MEMBER') FROM pg_class c "
        " WHERE c.oid = to_regclass('audit_events')) "
        "FROM pg_roles r WHERE r.rolname = current_user").first()
    if row is None:
        return None
    superuser, bypass_rls, owns = row
    if superuser or bypass_rls:
        return "DATABASE_URL connects as a superuser; use the app's own runtime role"
    if owns:
        return ("DATABASE_URL connects as the owner of the tables (or a member of it); use the "
                "runtime role, and DATABASE_OWNER_URL for migrations only")
    return None


def refuse_privileged(engine) -> None:
    """Raise ConfigError when the engine's role could rewrite the audit log (production)."""
    with engine.connect() as conn:
        problem = runtime_role_problem(conn)
    if problem:
        raise ConfigError(problem)
