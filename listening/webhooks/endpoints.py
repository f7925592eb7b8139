"""Webhook endpoints: where an organization's events go, and the secret that signs them.

An address must be https and reach only public addresses in production (every address its
name resolves to is checked here, and the address actually connected to is checked again
at each delivery: listening/webhooks/transport.py). Outside production a plain
``http://127.0.0.1`` (or localhost) receiver is allowed too, for demos and tests. The
``whsec_`` secret is shown once; it is kept encrypted (it must be read back to sign).
The caller commits.
"""
from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from listening import audit
from listening.api.schemas import EVENT_TYPES
from listening.audit import Action
from listening.core import crypto
from listening.core.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from listening.webhooks import transport

SECRET_PREFIX = "whsec_"
URL_MAX = 2000
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_PER_ORG = 20


class EndpointError(ValueError):
    """The endpoint cannot be added or changed (the message says why)."""


@dataclass(frozen=True)
class NewEndpoint:
    row: WebhookEndpoint
    secret: str  # shown once


def secret_aad(endpoint_id: int) -> bytes:
    return crypto.aad_for("webhook", endpoint_id, "secret")


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise EndpointError(f"The name {host} does not resolve to any address.") from None
    return [info[4][0].split("%", 1)[0] for info in infos]


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(raw, production: bool) -> str:
    """The address to post to, or EndpointError saying what is wrong with it."""
    url = str(raw or "").strip()
    if not url or len(url) > URL_MAX:
        raise EndpointError(f"Give the receiver's address (at most {URL_MAX} characters).")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointError("That is not a web address.") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise EndpointError("The address must start with https://.")
    if parts.username or parts.password:
        raise EndpointError("The address must not carry a user name or password.")
    if parts.fragment:
        raise EndpointError("The address must not have a #fragment.")
    if production:
        if parts.scheme != "https":
            raise EndpointError("The address must start with https://.")
        private = [a for a in _addresses(host, port) if not transport.is_public(a)]
        if private:
            raise EndpointError(f"{host} resolves to {private[0]}, which is not a public address.")
    elif parts.scheme == "http" and not _is_loopback_name(host):
        raise EndpointError("Plain http:// is only for a receiver on this machine (127.0.0.1); "
                            "use https:// elsewhere.")
    return url


def receiver_of(url: str) -> str:
    """What the audit log names a receiver by: scheme and host. Many receivers take their
    own secret in the path or query (https://hooks.example.com/services/T0/B0/XXXX), and the
    audit log keeps what it holds for years, beyond the reach of erasure or an edit."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_events(raw) -> list[str]:
    events = sorted({str(e).strip() for e in raw or () if str(e).strip()})
    if not events:
        raise EndpointError("Choose at least one event.")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise EndpointError(f"Unknown event {unknown[0]!r}; the events are " + ", ".join(EVENT_TYPES) + ".")
    return events


def add(session: Session, ring: crypto.KeyRing, org_id: int, url, events, actor, now: datetime, *,
        production: bool) -> NewEndpoint:
    """A new endpoint with a fresh ``whsec_`` secret (32 random bytes, base64)."""
    url, events = check_url(url, production), check_events(events)
    count = len(session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.org_id == org_id)).all())
    if count >= MAX_PER_ORG:
        raise EndpointError(f"An organization has at most {MAX_PER_ORG} endpoints; remove one first.")
    secret = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    row = WebhookEndpoint(org_id=org_id, url=url, events=events, created_by=getattr(actor, "id", None),
                          created_at=now)
    session.add(row)
    session.flush()
    row.secret = ring.encrypt(secret.encode(), secret_aad(row.id))
    session.flush()
    audit.record(session, Action.webhook_endpoint_added, actor, None,
                 {"endpoint_id": row.id, "receiver": receiver_of(url), "events": events}, org_id=org_id)
    return NewEndpoint(row, secret)


def secret_of(ring: crypto.KeyRing, row: WebhookEndpoint) -> str:
    return ring.decrypt(row.secret, secret_aad(row.id)).decode()


def of_org(session: Session, org_id: int, endpoint_id) -> WebhookEndpoint | None:
    try:
        endpoint_id = int(endpoint_id)
    except (TypeError, ValueError):
        return None
    return session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id,
                                                        WebhookEndpoint.id == endpoint_id))


def listing(session: Session, org_id: int) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
                                .order_by(WebhookEndpoint.id)))


def remove(session: Session, row: WebhookEndpoint, actor) -> None:
    """Delete the endpoint and its deliveries (nothing more is sent to it)."""
    details = {"endpoint_id": row.id, "receiver": receiver_of(row.url)}
    session.delete(row)
    session.flush()
    audit.record(session, Action.webhook_endpoint_removed, actor, None, details, org_id=row.org_id)


def enable(session: Session, row: WebhookEndpoint, actor) -> None:
    """Send to it again: from now on (what failed while it was disabled stays failed)."""
    if row.enabled:
        return
    row.enabled, row.disabled_reason, row.disabled_at, row.failing_since = True, None, None, None
    session.flush()
    audit.record(session, Action.webhook_endpoint_enabled, actor, None, {"endpoint_id": row.id},
                 org_id=row.org_id)


def disable(session: Session, row: WebhookEndpoint, actor, reason: str, now: datetime) -> None:
    """Stop sending: its pending deliveries fail with the reason, and the page shows it."""
    if not row.enabled:
        return
    row.enabled, row.disabled_reason, row.disabled_at = False, reason, now
    session.execute(update(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == row.id, WebhookDelivery.status == DeliveryStatus.pending)
        .values(status=DeliveryStatus.failed, next_attempt_at=None, leased_until=None,
                last_error="endpoint disabled"))
    session.flush()
    audit.record(session, Action.webhook_endpoint_disabled, actor, None,
                 {"endpoint_id": row.id, "reason": reason}, org_id=row.org_id)


def delivery_log(session: Session, row: WebhookEndpoint, limit: int = 100) -> list[tuple]:
    """The endpoint's latest deliveries, newest first: (delivery, event type, webhook-id)."""
    return session.execute(select(WebhookDelivery, WebhookEvent.type, WebhookEvent.msg_id)
                           .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                           .where(WebhookDelivery.org_id == row.org_id, WebhookDelivery.endpoint_id == row.id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
