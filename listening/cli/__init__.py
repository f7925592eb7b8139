"""The ``flask`` commands (entry points): each opens a unit of work, calls a use case, commits.

Bad input exits with status 2 and one line on stderr; nothing is half-written
because each command is one unit of work. Importing this package is cheap (click alone):
``flask graph-fetch`` is also a plugin command that runs without building the app
(listening/cli/graph_fetch.py), and it imports this package first.
"""
from __future__ import annotations

import sys
from typing import NoReturn

import click


def services():
    """The Services that create_app built for the app this command was started with (Flask's
    ScriptInfo on the click context: the one app the CLI loaded, not a global). Commands run
    through ``flask`` (or ``app.test_cli_runner()``), which provides it."""
    from flask.cli import ScriptInfo

    info = click.get_current_context().find_object(ScriptInfo)
    if info is None:
        fail("run this command through 'flask --app wsgi'")
    return info.load_app().extensions["listening"]


def fail(message: str, status: int = 2) -> NoReturn:
    """Bad input: one line on stderr and status 2 (1 for a finding rather than bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def organization(sess, tenant_id: str):
    """The organization of ``--org TENANT``, or exit 2 saying how to add it."""
    from listening.core import store

    org = store.organization_by_tenant(sess, tenant_id)
    if org is None:
        fail(f"no organization for tenant {tenant_id}; add it with 'flask org add'")
    return org


class OneLineErrors(click.Command):
    """Click's usage errors print a usage block; our rule is one line on stderr and status 2."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            fail(err.format_message().replace("\n", " "))


def init_app(app) -> None:
    from listening.cli import api_keys, audit, graph_fetch, keys, notifications, schema, sync, webhooks

    for group in (schema.db_cli, schema.org_cli, schema.directory_cli, audit.audit_cli,
                  audit.retention_cli, keys.keys_cli, api_keys.api_keys_cli, webhooks.webhooks_cli,
                  notifications.notifications_cli):
        app.cli.add_command(group)
    app.cli.add_command(sync.sync_command)
    # Also a plugin command (pyproject.toml), found without building the app; registered here
    # too, so that it works where the project itself is not installed.
    app.cli.add_command(graph_fetch.graph_fetch_command)
