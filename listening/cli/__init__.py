"""The ``flask`` commands (entry points): each opens a unit of work, calls a use case, commits.

Bad input exits with status 2 and one line on stderr; nothing is half-written
because each command is one unit of work.
"""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app

from listening.core import store


def services():
    """The Services of the app the command runs in (built once by create_app)."""
    return current_app.extensions["listening"]


def fail(message: str, status: int = 2) -> NoReturn:
    """Bad input: one line on stderr and status 2 (1 for a finding rather than bad input)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def organization(sess, tenant_id: str):
    """The organization of ``--org TENANT``, or exit 2 saying how to add it."""
    org = store.organization_by_tenant(sess, tenant_id)
    if org is None:
        fail(f"no organization for tenant {tenant_id}; add it with 'flask org add'")
    return org


def init_app(app) -> None:
    from listening.cli import api_keys, audit, keys, notifications, schema, sync, webhooks

    for group in (schema.db_cli, schema.org_cli, schema.directory_cli, audit.audit_cli,
                  audit.retention_cli, keys.keys_cli, api_keys.api_keys_cli, webhooks.webhooks_cli,
                  notifications.notifications_cli):
        app.cli.add_command(group)
    sync.init_app(app)
