"""The two database roles: an owner that runs the migrations, and the runtime role that web,
worker and clock connect as.

The runtime role gets its privileges from ``grant_runtime``, which ``flask db upgrade`` runs
after every upgrade (a grants step rather than GRANTs inside a migration: the role's name is
the deployment's, not the schema's, and a table added by a later migration is covered the
next time it runs without that migration having to know about roles). It may read and write
every table except the audit log, where it may only INSERT and SELECT; it never owns a table,
so it cannot alter or disable a trigger, and it holds no TRUNCATE. Old audit entries leave
only through ``audit_purge``, a SECURITY DEFINER function of the owner
(migrations/versions/0008_audit_roles_and_keys.py).
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from listening.core.config import ConfigError

# The runtime role's grants on the audit log, and what it may call.
AUDIT_TABLE = "audit_events"
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


def grant_runtime(owner_url: str, runtime: str) -> None:
    """What the runtime role may do, granted by the owner (idempotent; after every upgrade)."""
    with psycopg.connect(libpq(owner_url), connect_timeout=10) as conn:
        schema, database = conn.execute("SELECT current_schema(), current_database()").fetchone()
        ident = {"schema": sql.Identifier(schema), "role": sql.Identifier(runtime),
                 "audit": sql.Identifier(AUDIT_TABLE), "database": sql.Identifier(database)}
        for statement in (
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "REVOKE ALL ON {audit} FROM {role}",
            "GRANT SELECT, INSERT ON {audit} TO {role}",
            "REVOKE ALL ON alembic_version FROM {role}",
            "GRANT SELECT ON alembic_version TO {role}",
            # A restore without privileges (pg_restore -x) leaves the function open to PUBLIC.
            "REVOKE ALL ON FUNCTION " + PURGE_FUNCTION + " FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION " + PURGE_FUNCTION + " TO {role}",
        ):
            conn.execute(sql.SQL(statement).format(**ident))


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
