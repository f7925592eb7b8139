"""Graph subscriptions to a mailbox's events: the rules for creating one, and its JSON shapes.

Facts in docs/microsoft-graph.md §9. No HTTP and no threads here: subscriptions_api.py serves the
Graph paths, notifier.py delivers.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .graph_core import GraphError

MAX_MINUTES = 10080  # Outlook events, basic notifications: under 7 days (§9)
CLIENT_STATE_MAX = 128  # §9
CHANGE_TYPES = ("created", "updated", "deleted")
TLS_VERSIONS = ("v1_0", "v1_1", "v1_2", "v1_3")
EVENT_TYPE = "#Microsoft.Graph.Event"  # the capitalisation Graph uses in notifications


def stamp(epoch: float) -> str:
    """Graph's DateTimeOffset form with seven fractional digits, e.g. 2026-03-02T10:00:00.1234560Z."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


@dataclass(eq=False)
class Subscription:
    id: str
    oid: str
    tenant_id: str
    email: str
    client_id: str
    resource: str
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    expires: float                 # on the emulator clock (epoch seconds)
    client_state: str | None
    tls_version: str
    created: float
    authority: object              # the AccessToken whose life bounds the subscription's access
    challenged: float | None = None  # last reauthorizationRequired, emulator clock
    pending: int = 0               # notifications not yet delivered or dropped

    @property
    def change_types(self) -> frozenset[str]:
        return frozenset(self.change_type.split(","))

    def graph_json(self, with_state: bool = False) -> dict:
        """The subscription resource. Graph returns clientState only to the create call."""
        return {"id": self.id, "resource": self.resource, "applicationId": self.client_id,
                "changeType": self.change_type,
                "clientState": self.client_state if with_state else None,
                "notificationUrl": self.notification_url,
                "notificationQueryOptions": None,
                "lifecycleNotificationUrl": self.lifecycle_url,
                "expirationDateTime": stamp(self.expires), "creatorId": self.oid,
                "includeResourceData": False, "latestSupportedTlsVersion": self.tls_version,
                "encryptionCertificate": None, "encryptionCertificateId": None,
                "notificationUrlAppId": None}

    def control_json(self) -> dict:
        return {"id": self.id, "resource": self.resource, "mailbox": self.email,
                "changeType": self.change_type, "expirationDateTime": stamp(self.expires),
                "notificationUrl": self.notification_url,
                "lifecycleNotificationUrl": self.lifecycle_url, "client_id": self.client_id,
                "created": stamp(self.created), "pending_deliveries": self.pending}

    def change(self, event_id: str, kind: str, etag: str) -> dict:
        """A basic change notification (no resource data), as §9 shows it."""
        path = f"Users/{self.oid}/Events/{event_id}"
        return {"subscriptionId": self.id, "subscriptionExpirationDateTime": stamp(self.expires),
                "changeType": kind, "resource": path,
                "resourceData": {"@odata.type": EVENT_TYPE, "@odata.id": path,
                                 "@odata.etag": etag, "id": event_id},
                "clientState": self.client_state, "tenantId": self.tenant_id}

    def lifecycle(self, event: str) -> dict:
        return {"subscriptionId": self.id, "subscriptionExpirationDateTime": stamp(self.expires),
                "tenantId": self.tenant_id, "clientState": self.client_state,
                "lifecycleEvent": event}


def parse_expiry(value, now: float) -> float:
    """expirationDateTime as emulator-clock seconds: in the future, at most MAX_MINUTES ahead."""
    if not isinstance(value, str) or not value.strip():
        raise invalid("expirationDateTime is required.")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"expirationDateTime '{value}' is not a valid DateTimeOffset.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    expires = moment.timestamp()
    if expires <= now:
        raise invalid("Subscription expiration must be in the future.")
    if expires > now + MAX_MINUTES * 60:
        raise invalid(f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.")
    return expires


def check_resource(resource, user, world) -> None:
    """me/events or users/{id or address}/events of the caller's own mailbox (§9)."""
    if not isinstance(resource, str):
        raise invalid("resource is required.")
    parts = resource.strip().strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if lowered == ["me", "events"]:
        return
    if len(parts) == 3 and lowered[0] == "users" and lowered[2] == "events":
        target = world.users.get(parts[1]) or world.user_by_email(parts[1])
        if target is user:
            return
        if target is not None:  # a delegated token reaches only its own mailbox here
            raise GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and "
                             "try again.")
    raise invalid(f"The resource '{resource}' is not supported; the emulator serves "
                  "subscriptions to me/events and users/{id}/events.")


def check_url(name: str, value, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") \
            or not urlsplit(value).netloc:
        raise invalid(f"{name} must be an absolute https URL (http is accepted here).")
    return value


def parse_change_type(value) -> str:
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else []
    if not names or any(n not in CHANGE_TYPES for n in names):
        raise invalid("changeType must be a comma-separated list of created, updated, deleted.")
    return ",".join(dict.fromkeys(names))


def new_subscription(body: dict, caller, world, now: float) -> Subscription:
    """Check a create request's body and build the subscription (not yet validated or stored)."""
    check_resource(body.get("resource"), caller.user, world)
    state = body.get("clientState")
    if state is not None and (not isinstance(state, str) or len(state) > CLIENT_STATE_MAX):
        raise invalid(f"clientState must be a string of at most {CLIENT_STATE_MAX} characters.")
    if body.get("includeResourceData"):
        raise invalid("includeResourceData is not supported by the emulator (it needs an "
                      "encryption certificate); subscribe to basic notifications.")
    tls = body.get("latestSupportedTlsVersion") or "v1_2"
    if tls not in TLS_VERSIONS:
        raise invalid(f"latestSupportedTlsVersion must be one of {', '.join(TLS_VERSIONS)}.")
    return Subscription(
        id=str(uuid.uuid4()), oid=caller.user.oid, tenant_id=caller.user.tenant_id,
        email=caller.user.email, client_id=caller.token.client_id,
        resource=body["resource"], change_type=parse_change_type(body.get("changeType")),
        notification_url=check_url("notificationUrl", body.get("notificationUrl"), True),
        lifecycle_url=check_url("lifecycleNotificationUrl",
                                body.get("lifecycleNotificationUrl"), False),
        expires=parse_expiry(body.get("expirationDateTime"), now), client_state=state,
        tls_version=tls, created=now, authority=caller.token)
