"""The ``flask`` commands (entry points): each opens a unit of work, calls a use case, commits.

Bad input exits with status 2 and one line on stderr; nothing is half-written
because each command is one unit of work.
"""
from __future__ import annotations

from flask import current_app


def services():
    """The Services of the app the command runs in (built once by create_app)."""
    return current_app.extensions["listening"]


def init_app(app) -> None:
    from listening.cli import api_keys, audit, keys, notifications, schema, sync, webhooks

    for group in (schema.db_cli, schema.org_cli, schema.directory_cli, audit.audit_cli,
                  audit.retention_cli, keys.keys_cli, api_keys.api_keys_cli, webhooks.webhooks_cli,
                  notifications.notifications_cli):
        app.cli.add_command(group)
    sync.init_app(app)
