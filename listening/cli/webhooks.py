"""``flask webhooks add | list | remove``: webhook endpoints for automation.

``add`` prints the endpoint's ``whsec_`` signing secret alone on its last line (so a script
can take ``tail -n 1``); it is shown this once. Bad input exits with status 2 and one line
on stderr.
"""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from listening.api.schemas import EVENT_TYPES
from listening.cli import fail, organization, services
from listening.webhooks import endpoints

webhooks_cli = AppGroup("webhooks", help="Endpoints that receive Listening's events.")


@webhooks_cli.command("add")
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
@click.option("--url", required=True, help="The receiver's https:// address.")
@click.option("--event", "events", multiple=True, required=True,
              help="One of " + ", ".join(EVENT_TYPES) + " (repeat for several).")
def add(tenant_id: str, url: str, events: tuple[str, ...]):
    """Add an endpoint; its signing secret is printed once, alone on the last line."""
    settings = services().settings
    with services().db.unit_of_work() as sess:
        org = organization(sess, tenant_id)
        try:
            made = endpoints.add(sess, services().keys, org.id, url, events, None,
                                 datetime.now(UTC), production=settings.production)
        except endpoints.EndpointError as err:
            fail(str(err))
        endpoint_id, secret = made.row.id, made.secret
    click.echo(f"endpoint #{endpoint_id} for {org.name} receives {', '.join(sorted(set(events)))}; "
               "its signing secret is shown only now:")
    click.echo(secret)


@webhooks_cli.command("list")
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
def listing(tenant_id: str):
    """The organization's endpoints (never their secrets)."""
    with services().db.unit_of_work() as sess:
        rows = endpoints.listing(sess, organization(sess, tenant_id).id)
        for row in rows:
            state = "enabled" if row.enabled else f"disabled: {row.disabled_reason}"
            click.echo(f"#{row.id}\t{row.url}\t{','.join(row.events)}\t{state}")
    if not rows:
        click.echo("no endpoints")


@webhooks_cli.command("remove")
@click.argument("endpoint_id", type=int)
@click.option("--org", "tenant_id", required=True, help="The organization's Microsoft tenant id.")
def remove(endpoint_id: int, tenant_id: str):
    """Delete an endpoint and its delivery log."""
    with services().db.unit_of_work() as sess:
        row = endpoints.of_org(sess, organization(sess, tenant_id).id, endpoint_id)
        if row is None:
            fail(f"no endpoint #{endpoint_id} in that organization")
        endpoints.remove(sess, row, None)
    click.echo(f"endpoint #{endpoint_id} removed")
