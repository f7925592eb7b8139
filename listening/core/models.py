"""SQLAlchemy 2 typed models. Queries live in store.py; nothing here commits.

Every table but organizations carries ``org_id`` so that every query can be
scoped to the caller's organization without a join.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# The largest values the id columns hold (integer and bigint): an id from a URL or a form
# beyond them names nothing, and must be refused before it reaches a query.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1


def _enum(cls, name):
    # Store the readable value, not the member name, and let PostgreSQL check it.
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class Role(str, enum.Enum):
    employee = "employee"
    manager = "manager"
    hr_admin = "hr_admin"


class ConnectionState(str, enum.Enum):
    linked = "linked"
    # Microsoft answered that an administrator of the organization must approve the app
    # first: nothing is linked yet, and only that approval (then a new link) moves it on.
    awaiting_approval = "awaiting_approval"
    needs_reconnect = "needs_reconnect"
    error = "error"
    disabled = "disabled"


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Settings the organization's HR admins change on their page; defaults are the product's.
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    window_past_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    window_future_days: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    calendar_scope: Mapped[str] = mapped_column(String(40), default="Calendars.Read",
                                                server_default="Calendars.Read")
    retention_calendar_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    retention_audit_days: Mapped[int] = mapped_column(Integer, default=730, server_default="730")
    # With change notifications on, how often a calendar is re-read anyway (listening/notifications/).
    safety_net_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("org_id", "email", name="people_org_email_key"),
        UniqueConstraint("org_id", "oid", name="people_org_oid_key"),
        Index("people_manager_idx", "manager_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    oid: Mapped[str | None] = mapped_column(String(64))
    # Nullable only so that erasing a person (a privacy request) can clear personal fields.
    email: Mapped[str | None] = mapped_column(String(320))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_enum(Role, "person_role"), default=Role.employee)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sessions are signed cookies that carry this number: sign-out, deactivation and erasure
    # raise it, which ends every session issued before, copies included (a counter, not a
    # time, so no two hosts' clocks are compared).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())

    manager: Mapped[Person | None] = relationship(remote_side="Person.id", lazy="raise")

    def end_sessions(self) -> None:
        """Every session issued so far stops working at its next request (security.py)."""
        self.session_version = (self.session_version or 0) + 1

    @property
    def label(self) -> str:
        """What pages show: the name, or a pseudonym once erased."""
        return Person.label_of(self.id, self.display_name, self.email)

    @staticmethod
    def label_of(person_id: int, display_name: str | None, email: str | None) -> str:
        """``label`` from plain column values (for queries that select rows, not Person objects)."""
        return display_name or email or f"person #{person_id}"


class AuditEvent(Base):
    """Append-only: the app's database role may only INSERT and SELECT, a trigger refuses
    UPDATE, DELETE and TRUNCATE, and old entries leave only through the owner's
    ``audit_purge`` function (migrations/versions/0008_audit_roles_and_keys.py)."""
    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("org_id", "seq", name="audit_org_seq_key"),
        Index("audit_org_time_idx", "org_id", "occurred_at", "id"),
        Index("audit_org_id_idx", "org_id", "id"),  # the audit log page with no filter
        Index("audit_org_action_idx", "org_id", "action", "id"),
        Index("audit_org_actor_idx", "org_id", "actor_id", "id"),
        Index("audit_org_subject_idx", "org_id", "subject_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # RESTRICT: a cascade would delete the entries as the table's owner, past the guard.
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(64))
    # People are named by internal id only, so erasure never rewrites an entry.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    subject_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    details: Mapped[dict] = mapped_column(JSONB, default=dict)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    # The key ring's key id whose derived audit key made ``hash`` (an HMAC); None only for
    # entries written before the chain was keyed (a plain SHA-256), which no new row may be.
    key_id: Mapped[str | None] = mapped_column(String(64))


class SignInRefusal(Base):
    """Refused sign-ins we cannot tie to an organization: a bad state, a replayed code, a
    tampered id_token, an unknown tenant, and a cancel or error sent back by Microsoft (that
    redirect names no tenant). The operators' record, since no organization's audit log can
    hold them. One row per hour, reason and source with a count, and a bounded number of
    sources per hour (listening/audit/refusals.py).
    """
    __tablename__ = "sign_in_refusals"
    __table_args__ = (
        UniqueConstraint("hour", "reason", "ip", name="sign_in_refusals_bucket_key",
                         postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(INET)  # an IPv6 source is its /64; NULL: many sources
    count: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_detail: Mapped[str | None] = mapped_column(String(120))
    last_user_agent: Mapped[str | None] = mapped_column(String(400))
    # Only a tenant id read from a verified id_token; never one taken from the request.
    last_tenant_id: Mapped[str | None] = mapped_column(String(64))


class Connection(Base):
    """A manager's linked Outlook calendar. Tokens are AES-GCM ciphertexts (listening/core/crypto.py)."""
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("person_id", name="connections_person_key"),
        Index("connections_due_idx", "next_sync_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    state: Mapped[ConnectionState] = mapped_column(_enum(ConnectionState, "connection_state"),
                                                   default=ConnectionState.linked)
    state_reason: Mapped[str | None] = mapped_column(Text)
    # Linked as whom (Microsoft's view of the account), and what it granted.
    ms_tenant_id: Mapped[str | None] = mapped_column(String(64))
    ms_oid: Mapped[str | None] = mapped_column(String(64))
    account_email: Mapped[str | None] = mapped_column(String(320))
    scopes: Mapped[str | None] = mapped_column(Text)
    access_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    admin_consent_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_outcome: Mapped[str | None] = mapped_column(String(40))
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Graph answered Retry-After for longer than a sync may wait: nothing is sent to Graph for
    # this mailbox before then (listening/outlook/connection.py).
    graph_wait_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class CalendarItem(Base):
    """A trimmed, encrypted copy of one Graph event, beside the plain columns queries need."""
    __tablename__ = "calendar_items"
    __table_args__ = (
        UniqueConstraint("connection_id", "provider_event_id", name="calendar_items_event_key"),
        Index("calendar_items_series_idx", "connection_id", "series_id"),
        Index("calendar_items_start_idx", "connection_id", "start_utc"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    provider_event_id: Mapped[str] = mapped_column(Text)
    series_id: Mapped[str | None] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(20))
    start_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_utc: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    change_key: Mapped[str | None] = mapped_column(Text)
    provider_data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The stored schema provider_data was trimmed with (StoredFields.version in
    # listening/outlook/events.py); a sync rewrites a copy whose version is not the current
    # one. NULL: not known, so rewritten at the next sync.
    trim_version: Mapped[str | None] = mapped_column(Text)


class GraphSubscription(Base):
    """A Microsoft Graph change-notification subscription on one linked calendar (at most one).

    ``client_state`` is our random secret that Graph echoes in every notification, an AES-GCM
    ciphertext under ``aad_for("subscription", connection_id, "client_state")``."""
    __tablename__ = "graph_subscriptions"
    __table_args__ = (
        UniqueConstraint("connection_id", name="graph_subscriptions_connection_key"),
        UniqueConstraint("subscription_id", name="graph_subscriptions_subscription_key"),
        Index("graph_subscriptions_expiry_idx", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    subscription_id: Mapped[str] = mapped_column(String(128))  # Graph's id
    client_state: Mapped[bytes] = mapped_column(LargeBinary)
    notification_url: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reauthorized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last /reauthorize


class CalendarDelta(Base):
    """Where a calendar's delta rounds stand (organizations on Calendars.ReadBasic).

    ``delta_link`` is Graph's opaque URL with its token, an AES-GCM ciphertext under
    ``aad_for("delta", connection_id, "link")``; it is only valid for the window it was made
    for. ``forbidden_at``: Graph refused delta for this calendar, which reads calendarView."""
    __tablename__ = "calendar_deltas"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    delta_link: Mapped[bytes | None] = mapped_column(LargeBinary)
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    forbidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The stored fields' version the copy was last read whole under: a round from the link
    # brings only changes, so other fields need a whole round.
    trim_version: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class OneOnOneStatus(str, enum.Enum):
    ok = "ok"
    needs_attention = "needs_attention"


class OneOnOne(Base):
    """The series a manager attached as their 1-on-1 with one report (one per pair)."""
    __tablename__ = "one_on_ones"
    __table_args__ = (UniqueConstraint("manager_id", "report_id", name="one_on_ones_pair_key"),
                      Index("one_on_ones_org_idx", "org_id", "id"),
                      Index("one_on_ones_changed_idx", "org_id", "changed_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    report_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    series_id: Mapped[str] = mapped_column(Text)
    status: Mapped[OneOnOneStatus] = mapped_column(_enum(OneOnOneStatus, "one_on_one_status"),
                                                   default=OneOnOneStatus.ok)
    attention_reason: Mapped[str | None] = mapped_column(Text)
    # What the attention is about, as a code (recheck.Assessment.code, or "unlinked"): the
    # reason above speaks to the manager, the code lets the report's page say it their way.
    attention_code: Mapped[str | None] = mapped_column(String(40))
    # Which meeting this was, in words only ("weekly, Tuesdays at 10:00, America/New_York"),
    # so that the page can still say it once the calendar copy is gone (unlink deletes that).
    meeting_words: Mapped[str | None] = mapped_column(Text)
    replacement_series_id: Mapped[str | None] = mapped_column(Text)
    attached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When what the API shows of it last changed (series, status, people, attached since): a
    # trigger sets it, so no writer can forget, and a re-check that changes nothing leaves it.
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 server_onupdate=FetchedValue())


class ApiKey(Base):
    """An organization's key for /api/v1. Only a SHA-256 of the key is kept (listening/api/keys.py)."""
    __tablename__ = "api_keys"
    __table_args__ = (Index("api_keys_org_idx", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # The key's first characters ("lst_" and 8 more), shown so that people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEndpoint(Base):
    """Where an organization's events go. The signing secret is an AES-GCM ciphertext
    (``aad_for("webhook", endpoint id, "secret")``): it must be read back to sign."""
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("webhook_endpoints_org_idx", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(Text))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first failure since the last success; five days of failures disable the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEvent(Base):
    """The outbox: one row per event, written in the transaction of its cause, so an event
    exists exactly when its cause committed; ``msg_id`` is the stable ``webhook-id``."""
    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("org_id", "dedupe_key", name="webhook_events_dedupe_key"),
                      Index("webhook_events_org_idx", "org_id", "id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSONB)
    # Events found by a periodic scan (occurrence.ended) say once what they are about.
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeliveryStatus(str, enum.Enum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class WebhookDelivery(Base):
    """One event to one endpoint: its attempts, and when the next one is due."""
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="webhook_deliveries_event_endpoint_key"),
        Index("webhook_deliveries_endpoint_idx", "endpoint_id", "id"),
        Index("webhook_deliveries_due_idx", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "webhook_delivery_status"),
                                                   default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set while an attempt is in flight; a worker killed mid-post leaves it to expire.
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
