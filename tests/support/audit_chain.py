"""Arranging audit entries at chosen times (audit.record always stamps "now").

The entries are chained and keyed exactly as audit.record chains them, so verify() accepts them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import create_engine, insert, pool, text

from listening import audit
from listening.core.db import normalise_url
from listening.core.models import AuditEvent

COLUMNS = ("org_id", "seq", "occurred_at", "action", "actor_id", "subject_id", "ip", "user_agent",
           "details", "prev_hash", "hash", "key_id")


def append_at(session, org_id: int, action, occurred_at: datetime, actor_id: int | None = None,
              subject_id: int | None = None, details: dict | None = None,
              user_agent: str | None = None) -> AuditEvent:
    keys = audit.keys_of(session)
    audit.lock_chain(session, org_id)
    last = audit.tip(session, org_id)
    entry = AuditEvent(org_id=org_id, seq=(last.seq + 1) if last else 1, occurred_at=occurred_at,
                       action=audit.Action(action).value, actor_id=actor_id, subject_id=subject_id,
                       ip=None, user_agent=user_agent, details=details or {},
                       prev_hash=last.hash if last else audit.GENESIS, key_id=keys.current)
    entry.hash = audit.chain_hash(keys, entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


def append_many(session, org_id: int, rows: list[dict]) -> None:
    """Many entries in one INSERT; each row: action, occurred_at and optionally actor_id,
    subject_id, details, user_agent. Chained like append_at."""
    keys = audit.keys_of(session)
    audit.lock_chain(session, org_id)
    last = audit.tip(session, org_id)
    seq, prev = (last.seq, last.hash) if last else (0, audit.GENESIS)
    values = []
    for row in rows:
        seq += 1
        entry = AuditEvent(org_id=org_id, seq=seq, occurred_at=row["occurred_at"],
                           action=audit.Action(row["action"]).value, actor_id=row.get("actor_id"),
                           subject_id=row.get("subject_id"), ip=None, user_agent=row.get("user_agent"),
                           details=row.get("details") or {}, prev_hash=prev, key_id=keys.current)
        prev = entry.hash = audit.chain_hash(keys, prev, entry)
        values.append({c: getattr(entry, c) for c in COLUMNS})
    session.execute(insert(AuditEvent), values)


def tamper(admin_url: str, sql: str, **params) -> None:
    """Run ``sql`` on audit_events past the append-only trigger, as an attacker with
    superuser rights could (replica mode skips ordinary triggers); commits."""
    engine = create_engine(normalise_url(admin_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql), params)
    finally:
        engine.dispose()
