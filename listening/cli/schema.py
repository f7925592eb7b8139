"""``flask db upgrade``, ``flask org add`` and ``flask directory import``.

Bad input exits with status 2 and one line on stderr; nothing is half-written
because each command is one unit of work.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from listening import audit
from listening.admin import directory
from listening.audit import Action
from listening.cli import fail, organization, services
from listening.core import roles, store
from listening.core.config import ConfigError
from listening.core.models import Organization

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
org_cli = AppGroup("org", help="Organizations (one per Microsoft tenant).")
directory_cli = AppGroup("directory", help="The org directory.")


def alembic_config(url: str):
    import logging

    from alembic.config import Config

    # Alembic announces each of its autogenerate plugins at INFO; they say nothing about ours.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    root = Path(__file__).resolve().parents[2]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(services) -> str | None:
    """Migrate as the owner (DATABASE_OWNER_URL), then grant the runtime role (DATABASE_URL)
    what it needs; the runtime role's name, or None when both URLs are one role."""
    database = services.db
    if services.settings.production and not services.settings.database_owner_url:
        raise ConfigError("production migrations need DATABASE_OWNER_URL (the role that owns the "
                          "schema); DATABASE_URL is the app's runtime role")
    return migrate(database.owner_url, database.url)


def migrate(owner_url: str, runtime_url: str | None = None) -> str | None:
    from alembic import command

    command.upgrade(alembic_config(owner_url), "head")
    runtime = roles.user_of(runtime_url) if runtime_url else None
    if runtime is None or runtime == roles.user_of(owner_url):
        return None
    roles.grant_runtime(owner_url, runtime)
    return runtime


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every migration as the owner role and grant the runtime role (safe to re-run)."""
    try:
        runtime = upgrade(services())
    except ConfigError as err:
        fail(str(err))
    click.echo("database is at the newest migration" +
               (f"; runtime role {runtime} granted" if runtime else ""))


@org_cli.command("add")
@click.argument("tenant_id")
@click.option("--name", required=True, help="The organization's display name.")
def org_add(tenant_id: str, name: str):
    """Create the organization for a Microsoft tenant id (idempotent)."""
    with services().db.unit_of_work() as sess:
        org = store.organization_by_tenant(sess, tenant_id)
        if org is None:
            sess.add(Organization(tenant_id=tenant_id.lower(), name=name))
            click.echo(f"organization {name} added for tenant {tenant_id}")
        else:
            click.echo(f"organization for tenant {tenant_id} already exists ({org.name})")


@directory_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
def directory_import(file: Path, tenant_id: str):
    """Load the org chart from a CSV file; a file with any error changes nothing."""
    if not file.exists():
        fail(f"{file}: no such file")
    if file.stat().st_size > directory.MAX_BYTES:
        fail(f"{file}: larger than {directory.MAX_BYTES // 2**20} MB")
    try:
        rows = directory.parse_csv(file.read_bytes())
    except directory.DirectoryError as err:
        # The list of problems is the command's report (stdout); stderr gets the one-line verdict.
        for problem in err.problems:
            click.echo(f"{file}: {problem}")
        fail(f"{file}: {len(err.problems)} problem(s), listed above; nothing was imported")
    with services().db.unit_of_work() as sess:
        org = organization(sess, tenant_id)
        result = directory.apply_import(sess, org, rows)
        audit.record(sess, Action.directory_import, None, None, vars(result) | {"source": "cli"},
                     org_id=org.id)
    click.echo(f"imported {file}: {result.created} added, {result.updated} updated, "
               f"{result.deactivated} deactivated, {result.unchanged} unchanged")

