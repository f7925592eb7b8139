"""The audit log: an enum of actions and ``record``, which writes in the caller's transaction.

Each organization's entries form a chain: an entry's hash is an HMAC-SHA256, under a
key derived from the key ring (``KeyRing.derived(kid, CHAIN_PURPOSE)``), of the previous
entry's hash and a canonical form of the entry. The database never holds the key, so
someone who can only write to the database cannot recompute the chain after an edit.
Each entry names its key id, so a rotated key ring continues the chain and older
entries still verify while their key stays in the ring. Entries written before the
chain was keyed have no key id and a plain SHA-256 hash; the database refuses new
ones (a NOT VALID check constraint) and ``verify`` accepts them only before the first
keyed entry. People are named by internal id only; details must never hold tokens or
event content.

The key ring comes with the session (``session.info["keys"]``, set by
``listening.core.db.Database``), so every unit of work can write and check entries.
"""
from __future__ import annotations

import contextvars
import enum
import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from listening.core.crypto import CryptoError, KeyRing
from listening.core.models import AuditEvent

GENESIS = bytes(32)
CHAIN_PURPOSE = "audit-chain/v1"


class Action(str, enum.Enum):
    sign_in = "auth:sign_in"
    sign_in_refused = "auth:sign_in_refused"
    sign_out = "auth:sign_out"
    directory_import = "directory:import"
    directory_import_refused = "directory:import_refused"
    directory_exported = "directory:exported"
    link = "connection:link"
    link_refused = "connection:link_refused"
    admin_consent_required = "connection:admin_consent_required"
    admin_consent_returned = "connection:admin_consent_returned"
    admin_consent_confirmed = "connection:admin_consent_confirmed"
    refresh_failed = "connection:refresh_failed"
    state_changed = "connection:state_changed"
    check = "connection:check"
    unlink = "connection:unlink"
    sync = "calendar:sync"
    attach = "one_on_one:attach"
    detach = "one_on_one:detach"
    attach_refused = "one_on_one:attach_refused"
    needs_attention = "one_on_one:needs_attention"
    settings_changed = "org:settings_changed"
    audit_viewed = "audit:viewed"
    audit_exported = "audit:exported"
    audit_purged = "audit:purged"
    audit_verified = "audit:verified"
    audit_checkpoint = "audit:checkpoint"
    person_exported = "person:exported"
    person_erased = "person:erased"
    retention_purged = "calendar:retention_purged"
    keys_rotated = "keys:rotated"
    calendar_retrimmed = "calendar:retrimmed"
    api_key_created = "api_key:created"
    api_key_revoked = "api_key:revoked"
    # One per /api/v1 request made with a valid key: the key, the route, the status and how
    # many items it returned (never the items themselves).
    api_request = "api:request"
    webhook_endpoint_added = "webhook:endpoint_added"
    webhook_endpoint_removed = "webhook:endpoint_removed"
    webhook_endpoint_enabled = "webhook:endpoint_enabled"
    webhook_endpoint_disabled = "webhook:endpoint_disabled"
    webhook_redelivered = "webhook:redelivered"
    # Graph change-notification subscriptions (listening/notifications/).
    subscription_created = "subscription:created"
    subscription_renewed = "subscription:renewed"
    subscription_reauthorized = "subscription:reauthorized"
    subscription_deleted = "subscription:deleted"    # by us: unlink, erasure, sync off, address change
    subscription_removed = "subscription:removed"    # by Microsoft, or expired unrenewed


@dataclass(frozen=True)
class Origin:
    """Where the action came from: set once per request (or job) by the entry point.
    The user agent is kept to its first 400 characters (None when empty): it is the client's
    own text, stored with every entry and refusal count."""
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "user_agent", (self.user_agent or None) and self.user_agent[:400])


origin: contextvars.ContextVar[Origin] = contextvars.ContextVar("audit_origin", default=Origin())


def _canonical_ip(ip) -> str | None:
    """One spelling per address, however it was written (a request's "2001:DB8::1") or read
    back (PostgreSQL's inet output, psycopg's ipaddress objects, Python's own str(), which
    changed for IPv4-mapped addresses in 3.13): the fully expanded form."""
    if ip is None:
        return None
    return ipaddress.ip_interface(str(ip)).ip.exploded


def _whole_floats_as_ints(value):
    """jsonb keeps numbers as numeric: 1e20 comes back as the integer 100000000000000000000
    and 2.0 may come back as 2, so a whole float is hashed as the integer it equals."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(v) for v in value]
    return value


def canonical(entry: AuditEvent) -> bytes:
    """The bytes the hash covers: every meaningful column, in a fixed form (the key id too,
    for keyed entries; unkeyed ones keep the form they were hashed in)."""
    body = {
        "org_id": entry.org_id, "seq": entry.seq, "action": entry.action,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id, "subject_id": entry.subject_id,
        "ip": _canonical_ip(entry.ip),
        "user_agent": entry.user_agent, "details": _whole_floats_as_ints(entry.details or {}),
    }
    if getattr(entry, "key_id", None) is not None:
        body["key_id"] = entry.key_id
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(keys: KeyRing, prev_hash: bytes, entry: AuditEvent) -> bytes:
    """HMAC-SHA256 under the audit key of ``entry.key_id``; SHA-256 for an unkeyed entry.
    Raises CryptoError when the entry's key is not in the ring."""
    if entry.key_id is None:
        return hashlib.sha256(prev_hash + canonical(entry)).digest()
    key = keys.derived(entry.key_id, CHAIN_PURPOSE)
    return hmac.new(key, prev_hash + canonical(entry), hashlib.sha256).digest()


def keys_of(session: Session) -> KeyRing:
    """The key ring that came with the session (listening.core.db.Database sets it)."""
    keys = session.info.get("keys")
    if keys is None:
        raise RuntimeError("this session carries no key ring: open it from Database.sessionmaker")
    return keys


def _person_id(person) -> int | None:
    return person if person is None or isinstance(person, int) else person.id


def lock_chain(session: Session, org_id: int) -> None:
    """Serialise writers of one organization's chain until this transaction ends;
    the lock is transaction-scoped, so it cannot leak."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k1, :k2)"), {"k1": 7_000_001, "k2": org_id})


def record(session: Session, action: Action, actor, subject, details: dict | None = None,
           *, org_id: int | None = None) -> AuditEvent:
    """Append one entry to the organization's chain, inside the caller's transaction.

    ``actor``/``subject`` are Person objects, person ids or None. ``org_id`` is
    needed only when neither is a Person (e.g. a refused sign-in).
    """
    org_id = org_id or next(p.org_id for p in (actor, subject) if hasattr(p, "org_id"))
    entry = next_entry(session, org_id, action, actor, subject, details, where=origin.get())
    session.add(entry)
    session.flush()
    return entry


def next_entry(session: Session, org_id: int, action: Action, actor, subject, details: dict | None,
               *, where: Origin) -> AuditEvent:
    """The organization's next entry, chained and keyed but not added: takes the chain's lock,
    which the caller's transaction holds until it ends."""
    keys = keys_of(session)
    lock_chain(session, org_id)
    last = tip(session, org_id)
    entry = AuditEvent(
        org_id=org_id, seq=(last.seq + 1) if last else 1, occurred_at=datetime.now(UTC),
        action=Action(action).value, actor_id=_person_id(actor), subject_id=_person_id(subject),
        ip=where.ip, user_agent=where.user_agent,
        details=json.loads(json.dumps(details or {}, default=str)),
        prev_hash=last.hash if last else GENESIS, key_id=keys.current,
    )
    entry.hash = chain_hash(keys, entry.prev_hash, entry)
    return entry


def tip(session: Session, org_id: int):
    """(seq, hash) of the organization's newest entry, or None."""
    return session.execute(
        select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.org_id == org_id)
        .order_by(AuditEvent.seq.desc()).limit(1)
    ).first()


@dataclass(frozen=True)
class Verdict:
    whole: bool
    checked: int
    broken_at_seq: int | None = None
    problem: str | None = None
    first_seq: int | None = None  # > 1 once the retention purge has removed older entries


_CHAIN_COLUMNS = (AuditEvent.org_id, AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.action,
                  AuditEvent.actor_id, AuditEvent.subject_id, AuditEvent.ip, AuditEvent.user_agent,
                  AuditEvent.details, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.key_id)


def purge_details(first_seq: int, through_seq: int, last_hash: bytes, removed: int, before: datetime) -> dict:
    """What an ``audit_purged`` entry says; ``verify`` anchors the shortened chain on it."""
    return {"removed": removed, "first_seq": first_seq, "through_seq": through_seq,
            "last_hash": last_hash.hex(), "older_than": before.astimezone(UTC).isoformat()}


def _anchor_problem(session: Session, org_id: int, first) -> str | None:
    """The chain's first entry must start from the genesis hash, or from the last hash
    removed by a purge that a (hash-covered) audit_purged entry accounts for."""
    if first.seq == 1:
        return None if first.prev_hash == GENESIS else "the first entry does not start the chain"
    accounted = session.scalar(
        select(AuditEvent.seq).where(
            AuditEvent.org_id == org_id, AuditEvent.action == Action.audit_purged.value,
            AuditEvent.details["through_seq"].as_integer() == first.seq - 1,
            AuditEvent.details["last_hash"].as_string() == first.prev_hash.hex())
        .limit(1))
    if accounted is None:
        return f"entries 1..{first.seq - 1} are missing and no retention purge accounts for them"
    return None


def verify(session: Session, org_id: int, batch: int = 5000, keys: KeyRing | None = None) -> Verdict:
    """Walk the chain in order: anchored at genesis or at a recorded purge, gap-free, unaltered,
    every entry's HMAC right (unkeyed entries only before the first keyed one)."""
    keys = keys or keys_of(session)
    prev, expected_seq, checked, after, first_seq, keyed = None, None, 0, 0, None, False
    while True:
        # Plain rows, not ORM objects: a million entries must not fill the identity map.
        rows = session.execute(
            select(*_CHAIN_COLUMNS).where(AuditEvent.org_id == org_id, AuditEvent.seq > after)
            .order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return Verdict(True, checked, first_seq=first_seq)
        for entry in rows:
            if first_seq is None:
                first_seq = entry.seq
                problem = _anchor_problem(session, org_id, entry)
                if problem:
                    return Verdict(False, checked, entry.seq, problem, first_seq)
            problem = _link_problem(keys, entry, prev, expected_seq, keyed)
            if problem:
                return Verdict(False, checked, entry.seq, problem, first_seq)
            prev, expected_seq, checked, after = entry.hash, entry.seq + 1, checked + 1, entry.seq
            keyed = keyed or entry.key_id is not None


def _link_problem(keys: KeyRing, entry, prev: bytes | None, expected_seq: int | None,
                  keyed: bool) -> str | None:
    if expected_seq is not None and entry.seq != expected_seq:
        return f"entries {expected_seq}..{entry.seq - 1} are missing"
    if prev is not None and entry.prev_hash != prev:
        return "does not follow the previous entry"
    if entry.key_id is None and keyed:
        return "has no key id after keyed entries (written outside Listening)"
    try:
        expected = chain_hash(keys, entry.prev_hash, entry)
    except CryptoError:
        return (f"was written under key {entry.key_id!r}, which is not in the key ring "
                "(keep a key in LISTENING_KEYS while audit entries written under it are kept)")
    if not hmac.compare_digest(expected, entry.hash):
        return "was altered after it was written"
    return None


def count(session: Session, org_id: int) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.org_id == org_id))
