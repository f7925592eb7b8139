"""``flask notifications status``: are change notifications on, how many subscriptions live, and
what the endpoints accepted and refused (the refusals are counted in Redis, not audited)."""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup
from redis.exceptions import RedisError
from sqlalchemy import func, select

from listening.cli import fail, services
from listening.core.models import GraphSubscription
from listening.notifications import intake, subscriptions

notifications_cli = AppGroup("notifications", help="Graph change notifications.")


@notifications_cli.command("status")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(1, 192),
              help="How far back refusals are summed.")
def status(hours: int):
    """Subscriptions, and what the notification endpoints accepted and refused."""
    built = services()
    target = subscriptions.urls(built.settings)
    click.echo(f"notifications: {'on, at ' + target[0] if target else 'off (PUBLIC_URL is not set): polling'}")
    now = datetime.now(UTC)
    with built.db.sessionmaker() as session:
        live = session.scalar(select(func.count()).select_from(GraphSubscription)
                              .where(GraphSubscription.expires_at > now))
        due = session.scalar(select(func.count()).select_from(GraphSubscription).where(
            GraphSubscription.expires_at <= now + subscriptions.RENEW_BEFORE))
    click.echo(f"subscriptions: {live} live, {due} due for renewal or expired")
    try:
        counts, refused = intake.counts(built), intake.refusals(built, hours)
    except RedisError:
        fail("Redis is unreachable; the endpoints' counts are there", status=1)
    click.echo("notifications since counting began: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                                                       or "none"))
    click.echo(f"refused in the last {hours} h: " + (", ".join(f"{k} {v}" for k, v in sorted(refused.items()))
                                                    or "none"))
