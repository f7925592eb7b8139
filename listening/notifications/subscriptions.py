"""One Graph subscription per linked calendar (docs/microsoft-graph.md §9).

Each linked calendar of an organization with sync on gets a subscription on the manager's
events (``me/events``, created, updated and deleted, basic notifications) with a random
``clientState`` kept encrypted, and a lifecycle URL. ``keep`` brings one calendar's
subscription to what it should be: created when missing, renewed before it expires,
recreated when Graph forgot it or our address changed, deleted when the calendar is no
longer read (unlinked, sync turned off, reconnect needed, notifications turned off).
``reauthorize`` answers Graph's ``reauthorizationRequired``. Every change is audited.

Each use case is one unit of work and reports an ``Upkeep``; a calendar whose changes may
have gone unannounced (a subscription recreated) must be synced again: ``Upkeep.resync``.
Failures of Graph or of the token are logged and reported, never raised: the sweep retries.
"""
from __future__ import annotations

import logging
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core import crypto
from listening.core.models import Connection, ConnectionState, GraphSubscription, Organization
from listening.notifications import store
from listening.outlook import connection as states
from listening.outlook import graph

if TYPE_CHECKING:
    from listening.services import Services

log = logging.getLogger(__name__)
NOTIFICATIONS_PATH = "/graph/notifications"
LIFECYCLE_PATH = "/graph/lifecycle"
# Graph keeps a basic event subscription at most 10,080 minutes (§9); asking a little less
# leaves room for the two clocks to disagree.
LIFETIME = timedelta(minutes=10_000)
# Renewed this long before it expires: a worker that is down for a day still finds it alive.
RENEW_BEFORE = timedelta(days=2)
# Reauthorizing with an access token that is itself about to expire would only bring the next
# challenge: a token with less than this left is refreshed first.
REAUTHORIZE_MARGIN = timedelta(minutes=30)
# Microsoft asks that a /reauthorize and a PATCH of one subscription come at least this far apart
# (together they can leave it inconsistent); a PATCH reauthorizes as well (§9).
REAUTHORIZE_APART = timedelta(minutes=10)


@dataclass(frozen=True)
class Upkeep:
    action: str               # none, created, renewed, reauthorized, deleted, failed
    resync: bool = False      # changes may have gone unannounced: sync the calendar again
    detail: str | None = None


def urls(settings) -> tuple[str, str] | None:
    """(notification URL, lifecycle URL), or None when notifications are off (no PUBLIC_URL)."""
    if not settings.public_url:
        return None
    return settings.public_url + NOTIFICATIONS_PATH, settings.public_url + LIFECYCLE_PATH


def client_state_aad(connection_id: int) -> bytes:
    return crypto.aad_for("subscription", connection_id, "client_state")


# --- the use cases --------------------------------------------------------------------------------
def keep(services: Services, connection_id: int, now: datetime | None = None, *,
         gone: str | None = None) -> Upkeep:
    """Bring one calendar's subscription to what it should be. ``gone``: Graph said it removed
    the subscription of that id (``subscriptionRemoved``), so a new one is needed."""
    now = now or datetime.now(UTC)
    try:
        with services.db.unit_of_work() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                return Upkeep("none")
            org = session.get(Organization, connection.org_id)
            row = store.subscription_of(session, connection.id)
            try:
                return _keep(services, session, connection, org, row, now, gone)
            except (graph.GraphError, states.TokenError) as exc:
                # The refreshed token, or the reconnect state the token side recorded, still commit.
                return _failed(connection, "keeping the subscription", exc)
    except _CalendarGone as gone_meanwhile:
        return _gone_meanwhile(services, gone_meanwhile)


def reauthorize(services: Services, subscription_id: str, now: datetime | None = None) -> Upkeep:
    """Graph asked us to reauthorize (its access rests on a token about to expire): renew when
    renewal is near anyway (a PATCH reauthorizes too), else ``/reauthorize`` with a token that
    will outlive the next challenge; nothing when a renewal just did it. A ``/reauthorize`` and
    a PATCH never come within ``REAUTHORIZE_APART`` of each other."""
    now = now or datetime.now(UTC)
    try:
        with services.db.unit_of_work() as session:
            row = store.by_subscription_id(session, subscription_id)
            if row is None:
                return Upkeep("none")
            connection = session.get(Connection, row.connection_id)
            if connection.state is not ConnectionState.linked:
                return Upkeep("none")  # the sweep deletes it
            try:
                return _reauthorize(services, session, connection, row, now)
            except (graph.GraphError, states.TokenError) as exc:
                return _failed(connection, "reauthorizing the subscription", exc)
    except _CalendarGone as gone_meanwhile:
        return _gone_meanwhile(services, gone_meanwhile)


def connection_of(services: Services, subscription_id: str) -> int | None:
    with services.db.sessionmaker() as session:
        row = store.by_subscription_id(session, subscription_id)
        return row.connection_id if row is not None else None


@dataclass(frozen=True)
class Ending:
    """What deleting a calendar's subscription at Graph needs once the connection is gone."""
    connection_id: int
    org_id: int
    person_id: int
    subscription_id: str
    expires_at: datetime
    access_token: str | None


def prepare_end(services: Services, session: Session, connection: Connection) -> Ending | None:
    """Before unlink or erasure removes the connection (and its subscription row with it): the
    subscription's id and a token to delete it with. None when it has no subscription."""
    row = store.subscription_of(session, connection.id)
    if row is None:
        return None
    token = None
    if connection.state is ConnectionState.linked and connection.refresh_token is not None:
        try:
            token = services.tokens.access_token(session, connection)
        except states.TokenError:
            pass  # no usable permission: Graph drops the subscription with the grant, or at expiry
    return Ending(connection.id, connection.org_id, connection.person_id, row.subscription_id,
                  row.expires_at, token)


def end(services: Services, session: Session, ending: Ending | None, actor, reason: str) -> None:
    """Once the connection is removed (in the caller's session; the caller commits): delete the
    subscription at Graph and audit it. A Graph that cannot be reached does not stop the caller:
    the subscription then lapses there by itself (at most 7 days), and what it still sends is
    refused as unknown."""
    if ending is None:
        return
    at_microsoft = False
    if ending.access_token is not None:
        try:
            with services.graph.client(ending.access_token, max_wait=0.0) as client:
                at_microsoft = client.delete_subscription(ending.subscription_id)
        except graph.GraphError as exc:
            log.warning("could not delete the subscription of connection %s at Microsoft (%s); it "
                        "lapses by itself", ending.connection_id, type(exc).__name__)
    audit.record(session, Action.subscription_deleted, actor, ending.person_id,
                 {"connection_id": ending.connection_id, "subscription_id": ending.subscription_id,
                  "expires_at": ending.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
                  "reason": reason, "deleted_at_microsoft": at_microsoft}, org_id=ending.org_id)


# --- the steps ----------------------------------------------------------------------------------
def _answered_lately(row: GraphSubscription, now: datetime) -> bool:
    """Was it renewed or reauthorized less than REAUTHORIZE_APART ago? Then another PATCH or
    /reauthorize must wait, and a challenge now is already answered (a repeat, or one sent
    before that answer): both used a token that outlives it."""
    return any(at is not None and now - at < REAUTHORIZE_APART for at in (row.renewed_at, row.reauthorized_at))


def _reauthorize(services, session, connection, row, now) -> Upkeep:
    if _answered_lately(row, now):
        return Upkeep("none")
    try:
        if row.expires_at - now <= RENEW_BEFORE + REAUTHORIZE_APART:
            # Renewal is due, or the sweep would renew within ten minutes of a /reauthorize.
            _renew(services, session, connection, row, now)
            return Upkeep("renewed")
        with _graph(services, session, connection, force_refresh=not _fresh(connection)) as client:
            client.reauthorize_subscription(row.subscription_id)
    except graph.GraphNotFound:
        _forget(session, connection, row, Action.subscription_removed, "unknown to Microsoft")
        return _create_or_fail(services, session, connection, now, "unknown to Microsoft")
    row.reauthorized_at = now
    audit.record(session, Action.subscription_reauthorized, None, connection.person_id,
                 _details(connection, row), org_id=connection.org_id)
    return Upkeep("reauthorized")


def _keep(services, session, connection, org, row, now, gone) -> Upkeep:
    target = urls(services.settings)
    wanted = target is not None and connection.state is ConnectionState.linked and org.sync_enabled
    if row is not None and gone is not None and row.subscription_id == gone:
        _forget(session, connection, row, Action.subscription_removed, "removed by Microsoft")
        row = None
        if not wanted:
            return Upkeep("none")
        return _create_or_fail(services, session, connection, now, "removed by Microsoft")
    if row is not None and (not wanted or row.notification_url != target[0]):
        at_microsoft = _delete_at_graph(services, session, connection, row)
        reason = _why_not_wanted(connection, org, target)
        _forget(session, connection, row, Action.subscription_deleted, reason, at_microsoft=at_microsoft)
        row = None
        if not wanted:
            return Upkeep("deleted")
    if not wanted:
        return Upkeep("none")
    if row is not None and row.expires_at <= now:
        # Graph drops an expired subscription silently; changes since were never announced.
        _forget(session, connection, row, Action.subscription_removed, "expired")
        return _create_or_fail(services, session, connection, now, "expired")
    if row is None:
        return _create_or_fail(services, session, connection, now, "new")
    if row.expires_at - now <= RENEW_BEFORE and not _answered_lately(row, now):  # else: the next sweep
        try:
            _renew(services, session, connection, row, now)
        except graph.GraphNotFound:
            _forget(session, connection, row, Action.subscription_removed, "unknown to Microsoft")
            return _create_or_fail(services, session, connection, now, "unknown to Microsoft")
        return Upkeep("renewed")
    return Upkeep("none")


def _why_not_wanted(connection: Connection, org: Organization, target) -> str:
    if target is None:
        return "notifications turned off"
    if not org.sync_enabled:
        return "sync turned off"
    if connection.state is not ConnectionState.linked:
        return f"connection {connection.state.value}"
    return "address changed"


def _create_or_fail(services, session, connection, now, reason) -> Upkeep:
    _create(services, session, connection, now, reason)
    # Changes between the last read and now were not announced to anyone.
    return Upkeep("created", resync=True)


class _CalendarGone(Exception):
    """Unlink or erasure removed the calendar while Graph was making its subscription, which
    was then deleted at Graph (or not, ``at_microsoft``) here."""

    def __init__(self, ending: Ending, at_microsoft: bool):
        super().__init__(ending.subscription_id)
        self.ending, self.at_microsoft = ending, at_microsoft


def _gone_meanwhile(services: Services, gone: _CalendarGone) -> Upkeep:
    """Audited in a transaction of its own: the upkeep's rolled back with the calendar gone."""
    ending = gone.ending
    with services.db.unit_of_work() as session:
        audit.record(session, Action.subscription_deleted, None, ending.person_id,
                     {"connection_id": ending.connection_id, "subscription_id": ending.subscription_id,
                      "expires_at": ending.expires_at.astimezone(UTC).isoformat(timespec="seconds"),
                      "reason": "unlinked or erased while it was being made",
                      "deleted_at_microsoft": gone.at_microsoft}, org_id=ending.org_id)
    return Upkeep("deleted")


def _still_there(session: Session, connection_id: int) -> bool:
    """Does the connection row still exist? Locked (FOR KEY SHARE) until this transaction ends:
    an unlink under way is waited for, and one that comes later waits for this upkeep."""
    with session.no_autoflush:  # a refreshed token's UPDATE of a deleted row would fail first
        return session.execute(select(Connection.id).where(Connection.id == connection_id)
                               .with_for_update(key_share=True)).first() is not None


def _create(services: Services, session: Session, connection: Connection, now: datetime, reason: str) -> None:
    notification_url, lifecycle_url = urls(services.settings)
    client_state = secrets.token_urlsafe(48)  # 64 characters; Graph allows 128
    owner = (connection.id, connection.org_id, connection.person_id)  # readable once the row is gone
    with _graph(services, session, connection) as client:
        answer = client.create_subscription(notification_url, lifecycle_url, now + LIFETIME, client_state)
        subscription_id = answer.get("id")
        if not isinstance(subscription_id, str) or not subscription_id or len(subscription_id) > 128:
            raise graph.MalformedResponseError("the created subscription has no usable id")
        if not _still_there(session, connection.id):
            # Nobody else knows this subscription: left alone it would watch an unlinked
            # calendar for a week.
            try:
                at_microsoft = client.delete_subscription(subscription_id)
            except (graph.GraphError, states.TokenError) as exc:
                log.warning("could not delete the subscription of unlinked connection %s at Microsoft "
                            "(%s); it lapses by itself", connection.id, type(exc).__name__)
                at_microsoft = False
            raise _CalendarGone(Ending(*owner, subscription_id, _expiry(answer, now), None), at_microsoft)
    row = GraphSubscription(org_id=connection.org_id, connection_id=connection.id,
                            subscription_id=subscription_id, notification_url=notification_url,
                            client_state=services.keys.encrypt(client_state.encode(),
                                                               client_state_aad(connection.id)),
                            expires_at=_expiry(answer, now))
    session.add(row)
    session.flush()
    audit.record(session, Action.subscription_created, None, connection.person_id,
                 _details(connection, row) | {"reason": reason}, org_id=connection.org_id)


def _fresh(connection: Connection) -> bool:
    """Does the stored access token outlive the next reauthorization challenge?"""
    return connection.access_expires_at is not None and \
        connection.access_expires_at - REAUTHORIZE_MARGIN > datetime.now(UTC)


def _renew(services, session, connection, row, now) -> None:
    # A PATCH reauthorizes too: with a token that outlives REAUTHORIZE_APART, no challenge is due
    # before a /reauthorize may follow it.
    with _graph(services, session, connection, force_refresh=not _fresh(connection)) as client:
        answer = client.renew_subscription(row.subscription_id, now + LIFETIME)
    row.expires_at, row.renewed_at = _expiry(answer, now), now
    audit.record(session, Action.subscription_renewed, None, connection.person_id,
                 _details(connection, row), org_id=connection.org_id)


def _delete_at_graph(services, session, connection, row, max_wait: float | None = None) -> bool:
    """True when Graph deleted it; False when it did not know it, or could not be asked."""
    if connection.state is not ConnectionState.linked or connection.refresh_token is None:
        return False  # no usable permission: Graph drops it with the grant, or at expiry
    try:
        with _graph(services, session, connection, max_wait=max_wait) as client:
            return client.delete_subscription(row.subscription_id)
    except (graph.GraphError, states.TokenError) as exc:
        log.warning("could not delete the subscription of connection %s at Microsoft (%s); it lapses "
                    "by itself", connection.id, type(exc).__name__)
        return False


def _forget(session, connection, row, action: Action, reason: str, *, actor=None, at_microsoft=None) -> None:
    details = _details(connection, row) | {"reason": reason}
    if at_microsoft is not None:
        details["deleted_at_microsoft"] = at_microsoft
    session.delete(row)
    session.flush()
    audit.record(session, action, actor, connection.person_id, details, org_id=connection.org_id)
    _poll_again(session, connection)


def _poll_again(session, connection: Connection) -> None:
    """Without a subscription nobody announces changes: the next scheduled read comes at the
    organization's sync interval again, not at the far-off safety net."""
    if connection.next_sync_at is None:
        return
    org = session.get(Organization, connection.org_id)
    soon = datetime.now(UTC) + timedelta(minutes=org.sync_interval_minutes)
    connection.next_sync_at = min(connection.next_sync_at, soon)


def _failed(connection: Connection, what: str, exc: Exception) -> Upkeep:
    _, detail = states.failure_of(exc)
    log.warning("%s of connection %s failed: %s", what, connection.id, detail)
    return Upkeep("failed", detail=detail)


def _details(connection: Connection, row: GraphSubscription) -> dict:
    return {"connection_id": connection.id, "subscription_id": row.subscription_id,
            "expires_at": row.expires_at.astimezone(UTC).isoformat(timespec="seconds")}


def _expiry(answer: dict, now: datetime) -> datetime:
    """Graph's own expiry (it may grant less than asked), else what we asked for."""
    value = answer.get("expirationDateTime")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())  # 3.11 reads Graph's 7 digits and Z
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    return now + LIFETIME


@contextmanager
def _graph(services: Services, session: Session, connection: Connection, *, force_refresh: bool = False,
           max_wait: float | None = None):
    """A Graph client on the connection's token; a 401 refreshes it once. Refreshed tokens are
    saved in ``session`` (Microsoft keeps an older refresh token valid should it roll back)."""
    def token(force: bool) -> str:
        return services.tokens.access_token(session, connection, force_refresh=force)

    with services.graph.client(token(force_refresh), refresh=lambda: token(True), max_wait=max_wait) as client:
        yield client
