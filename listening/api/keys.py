"""API keys: made here, shown once, kept only as a hash; the caller commits.

A key is ``lst_`` and 43 base64url characters: 256 random bits from the operating system.
Only its SHA-256 is stored. A slow password hash (scrypt, argon2) protects guessable secrets
in a stolen table; nobody can guess 256 random bits or find them from their SHA-256, so the
fast hash costs nothing in safety and lets every request find its key with one indexed
lookup. A keyed hash (HMAC with a server secret) would add nothing here, and would void
every key the day that secret changed.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core.models import ApiKey, Organization

PREFIX = "lst_"
SCOPES = ("one_on_ones:read", "directory:read")
SHOWN_PREFIX = len(PREFIX) + 8
NAME_MAX = 100
_SHAPE = re.compile(r"^lst_[A-Za-z0-9_-]{43}$")


class ApiKeyError(ValueError):
    """The request to create or revoke a key cannot be done (the message says why)."""


@dataclass(frozen=True)
class NewKey:
    row: ApiKey
    secret: str  # shown once, never stored


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def clean_name(raw) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise ApiKeyError("Give the key a name, so that you can tell it apart later.")
    if len(name) > NAME_MAX:
        raise ApiKeyError(f"A key's name has at most {NAME_MAX} characters.")
    return name


def clean_scopes(raw) -> list[str]:
    scopes = sorted({str(s).strip() for s in raw or () if str(s).strip()})
    if not scopes:
        raise ApiKeyError("Choose at least one scope: " + ", ".join(SCOPES) + ".")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ApiKeyError(f"Unknown scope {unknown[0]!r}; the scopes are " + ", ".join(SCOPES) + ".")
    return scopes


def create(session: Session, org_id: int, name, scopes, actor, now: datetime) -> NewKey:
    """A new key for the organization; ``actor`` is the HR admin (a Person) or None (CLI)."""
    name, scopes = clean_name(name), clean_scopes(scopes)
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(org_id=org_id, name=name, prefix=secret[:SHOWN_PREFIX], key_hash=digest(secret),
                 scopes=scopes, created_by=getattr(actor, "id", None), created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, Action.api_key_created, actor, None,
                 {"api_key_id": row.id, "name": name, "scopes": scopes}, org_id=org_id)
    return NewKey(row, secret)


def of_org(session: Session, org_id: int, key_id) -> ApiKey | None:
    try:
        key_id = int(key_id)
    except (TypeError, ValueError):
        return None
    return session.scalar(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.id == key_id))


def revoke(session: Session, org_id: int, key_id, actor, now: datetime) -> ApiKey:
    """End a key at once (its next request is refused); revoking twice changes nothing."""
    row = of_org(session, org_id, key_id)
    if row is None:
        raise ApiKeyError("There is no such key in your organization.")
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
        audit.record(session, Action.api_key_revoked, actor, None,
                     {"api_key_id": row.id, "name": row.name}, org_id=org_id)
    return row


def listing(session: Session, org_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.org_id == org_id)
                                .order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())))


def authenticate(session: Session, secret: str | None) -> ApiKey | None:
    """The live key ``secret`` is, or None (malformed, unknown, revoked, organization gone)."""
    if not secret or not _SHAPE.match(secret):
        return None
    return session.scalar(select(ApiKey).join(Organization, Organization.id == ApiKey.org_id).where(
        ApiKey.key_hash == digest(secret), ApiKey.revoked_at.is_(None)))


def mark_used(session: Session, key: ApiKey, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
