"""``flask api-keys create | revoke | list``: API keys for automation.

``create`` prints the new key alone on its last line (so a script can take ``tail -n 1``);
it is shown this once and never again. Bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from listening.api import keys
from listening.cli import fail, organization, services

api_keys_cli = AppGroup("api-keys", help="Keys for the read-only API (/api/v1).")


@api_keys_cli.command("create")
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
@click.option("--name", required=True, help="What the key is for, to tell it apart later.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="One of " + ", ".join(keys.SCOPES) + " (repeat for several).")
def create(tenant_id: str, name: str, scopes: tuple[str, ...]):
    """Make a key; it is printed once, alone on the last line."""
    with services().db.unit_of_work() as sess:
        org = organization(sess, tenant_id)
        try:
            made = keys.create(sess, org.id, name, scopes, None, datetime.now(UTC))
        except keys.ApiKeyError as err:
            fail(str(err))
        key_id, secret = made.row.id, made.secret
    click.echo(f"API key #{key_id} ({', '.join(sorted(set(scopes)))}) for {org.name}; "
               "it is shown only now, keep it in a secret store:")
    click.echo(secret)


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
def revoke(key_id: int, tenant_id: str):
    """End a key at once (its next request is refused)."""
    with services().db.unit_of_work() as sess:
        org = organization(sess, tenant_id)
        try:
            row = keys.revoke(sess, org.id, key_id, None, datetime.now(UTC))
        except keys.ApiKeyError as err:
            fail(str(err))
    click.echo(f"API key #{row.id} ({row.name}) is revoked")


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@api_keys_cli.command("list")
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
def listing(tenant_id: str):
    """The organization's keys (never the keys themselves: only their first characters)."""
    with services().db.unit_of_work() as sess:
        rows = keys.listing(sess, organization(sess, tenant_id).id)
        for row in rows:
            state = f"revoked {_utc(row.revoked_at)}" if row.revoked_at else "active"
            used = _utc(row.last_used_at) if row.last_used_at else "never"
            click.echo(f"#{row.id}\t{row.prefix}…\t{row.name}\t{','.join(row.scopes)}\t{state}\tlast used {used}")
    if not rows:
        click.echo("no API keys")
