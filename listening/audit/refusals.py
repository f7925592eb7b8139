"""Refused sign-ins that belong to no organization: counted per hour, reason and address.

An organization's audit log holds what concerns it; a forged ``state``, a replayed code,
a tampered id_token or a tenant with no organization here concern none, yet operators
must see them (an attack shows as a count that climbs). The callback is open to anyone,
so each refusal is an upsert into its hour's bucket, never a new row per request.
"""
from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from listening import audit
from listening.core.models import SignInRefusal

KEEP = timedelta(days=90)  # long enough to see a pattern of attacks
# Past this many buckets in one hour for one reason, further sources share one bucket (ip
# NULL): a flood from many addresses adds to a count instead of rows.
MAX_SOURCES_PER_HOUR = 500


def record(session, reason: str, now: datetime, *, detail: str | None = None,
           tenant_id: str | None = None) -> None:
    """Count one refusal; ``reason`` is one of a few fixed words, ``detail`` our own text."""
    where = audit.origin.get()
    hour = now.replace(minute=0, second=0, microsecond=0)
    source = _source(where.ip)
    if source is not None and _sources(session, hour, reason) >= MAX_SOURCES_PER_HOUR:
        source = None
    values = {"hour": hour, "reason": reason, "ip": source, "count": 1, "last_at": now,
              "last_detail": detail and detail[:120], "last_user_agent": where.user_agent,
              "last_tenant_id": tenant_id}
    statement = insert(SignInRefusal).values(**values)
    session.execute(statement.on_conflict_do_update(
        constraint="sign_in_refusals_bucket_key",
        set_={"count": SignInRefusal.count + 1, "last_at": statement.excluded.last_at,
              "last_detail": statement.excluded.last_detail,
              "last_user_agent": statement.excluded.last_user_agent,
              "last_tenant_id": statement.excluded.last_tenant_id}))


def _source(ip: str | None) -> str | None:
    """The bucket's address: an IPv4 address, or an IPv6 address's /64 (one subscriber's
    allocation, which its holder can draw endless addresses from)."""
    if ip is None:
        return None
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _sources(session, hour: datetime, reason: str) -> int:
    return session.scalar(select(func.count()).select_from(SignInRefusal).where(
        SignInRefusal.hour == hour, SignInRefusal.reason == reason))


def count(session, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(SignInRefusal)
                          .where(SignInRefusal.hour >= since))


def latest(session, since: datetime, limit: int = 200) -> list[SignInRefusal]:
    return list(session.scalars(select(SignInRefusal).where(SignInRefusal.hour >= since)
                                .order_by(SignInRefusal.hour.desc(), SignInRefusal.count.desc(),
                                          SignInRefusal.id).limit(limit)))


def purge(session, now: datetime) -> int:
    """Remove buckets older than KEEP (the daily retention job); returns how many."""
    return session.execute(delete(SignInRefusal).where(SignInRefusal.hour < now - KEEP)).rowcount
