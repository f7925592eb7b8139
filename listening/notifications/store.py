"""The queries on graph_subscriptions. Never commits.

``lookup`` serves the notification endpoint: one indexed read on a plain connection, no ORM
session (every notification POST pays for it, so it must stay cheap).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from listening.core.models import Connection, ConnectionState, GraphSubscription, Organization


@dataclass(frozen=True)
class Known:
    """What the endpoint checks a notification against."""
    connection_id: int
    tenant_id: str
    client_state: bytes   # the ciphertext; decrypted by the caller


def lookup(engine, subscription_id: str) -> Known | None:
    statement = (select(GraphSubscription.connection_id, GraphSubscription.client_state,
                        Connection.ms_tenant_id)
                 .join(Connection, Connection.id == GraphSubscription.connection_id)
                 .where(GraphSubscription.subscription_id == subscription_id))
    with engine.connect() as conn:
        row = conn.execute(statement).first()
    if row is None:
        return None
    return Known(row.connection_id, (row.ms_tenant_id or "").lower(), bytes(row.client_state))


def subscription_of(session: Session, connection_id: int) -> GraphSubscription | None:
    return session.scalar(select(GraphSubscription).where(GraphSubscription.connection_id == connection_id))


def by_subscription_id(session: Session, subscription_id: str) -> GraphSubscription | None:
    return session.scalar(select(GraphSubscription)
                          .where(GraphSubscription.subscription_id == subscription_id))


def healthy(session: Session, connection_id: int, now: datetime) -> bool:
    """A subscription that Graph should still be delivering on."""
    return session.scalar(select(GraphSubscription.id).where(
        GraphSubscription.connection_id == connection_id, GraphSubscription.expires_at > now)) is not None


def count(session: Session, org_id: int | None = None) -> int:
    query = select(func.count()).select_from(GraphSubscription)
    if org_id is not None:
        query = query.where(GraphSubscription.org_id == org_id)
    return session.scalar(query)


def needing_upkeep(session: Session, now: datetime, renew_before: timedelta, notification_url: str | None,
                   limit: int) -> list[int]:
    """Connections whose subscription must be created, renewed, replaced or deleted, across all
    organizations (the sweep is the one caller not scoped to one)."""
    ids: list[int] = []
    wanted = and_(Connection.state == ConnectionState.linked, Organization.sync_enabled.is_(True))
    if notification_url is not None:
        ids += session.scalars(
            select(Connection.id).join(Organization, Organization.id == Connection.org_id)
            .outerjoin(GraphSubscription, GraphSubscription.connection_id == Connection.id)
            .where(wanted, GraphSubscription.id.is_(None)).order_by(Connection.id).limit(limit))
    stale = or_(GraphSubscription.expires_at <= now + renew_before, ~wanted)
    if notification_url is None:
        stale = true()
    else:
        stale = or_(stale, GraphSubscription.notification_url != notification_url)
    ids += session.scalars(
        select(GraphSubscription.connection_id)
        .join(Connection, Connection.id == GraphSubscription.connection_id)
        .join(Organization, Organization.id == Connection.org_id)
        .where(stale).order_by(GraphSubscription.expires_at).limit(limit))
    return list(dict.fromkeys(ids))[:limit]
