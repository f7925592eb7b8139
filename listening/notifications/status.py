"""How fresh a linked calendar is kept: pushed by Graph, or polled at the organization's interval."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from listening.core.models import Connection, ConnectionState, Organization
from listening.notifications import store


def poll_minutes(session: Session, connection: Connection, org: Organization, now: datetime) -> int:
    """Minutes until the scheduled re-read. With a live subscription Graph tells us of every
    change, and the re-read is only a safety net (the organization's ``safety_net_hours``)."""
    if store.healthy(session, connection.id, now):
        return max(org.sync_interval_minutes, org.safety_net_hours * 60)
    return org.sync_interval_minutes


def freshness(session: Session, connection: Connection | None, org: Organization | None,
              now: datetime) -> str | None:
    """What the 1-on-1s page says about it; None when nothing is being kept up to date."""
    if connection is None or org is None or connection.state is not ConnectionState.linked \
            or not org.sync_enabled:
        return None
    if store.healthy(session, connection.id, now):
        return "Kept up to date as it changes."
    return f"Checked for changes every {_every(org.sync_interval_minutes)}."


def _every(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
