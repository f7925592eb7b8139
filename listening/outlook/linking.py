"""Linking a manager's Outlook calendar: the use cases behind the /outlook views.

No Flask and no commit here: every function works in the caller's session, and
the view commits once. Each outcome is audited (who, when, IP and user agent
come from ``audit.origin``); tokens never reach the audit log or the logs.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from listening import audit
from listening.audit import Action
from listening.core import locks
from listening.core.models import (
    AuditEvent,
    CalendarItem,
    Connection,
    ConnectionState,
    OneOnOne,
    OneOnOneStatus,
    Organization,
    Person,
)
from listening.core.when import zone_of
from listening.outlook import connection as states
from listening.outlook import graph, identity, tokens

if TYPE_CHECKING:
    from listening.services import Services

log = logging.getLogger(__name__)
# A grant Listening never keeps: anything that writes or sends (Calendars.ReadWrite[.Shared],
# Mail.Send, *.ReadWrite.All), any mail scope, and whole-mailbox access (EWS, full_access).
_WRITE_OR_MAIL = re.compile(r"write|send|mail|accessasuser|full_access", re.IGNORECASE)
WAITING = ("Microsoft needs an administrator of your organization to approve Listening before "
           "anyone there can link Outlook.")
UNLINKED_1ON1 = ("Outlook was unlinked, so Listening no longer sees this meeting. Link Outlook again "
                 "to keep this 1-on-1 up to date.")
UNLINKED = "unlinked"  # OneOnOne.attention_code of the 1-on-1s an unlink leaves behind
# Admin consent: redirect errors whose AADSTS code means "the organization must approve".
ADMIN_CONSENT_CODES = (90094, 90095, 65001)


class LinkRefused(Exception):
    """Linking was refused; ``message`` is for the person, ``reason`` for the audit log."""

    def __init__(self, reason: str, message: str):
        super().__init__(reason)
        self.reason, self.message = reason, message


# --- queries (always scoped to the caller's organization) --------------------------------------
def connection_of(session, person: Person) -> Connection | None:
    return session.scalar(select(Connection).where(
        Connection.org_id == person.org_id, Connection.person_id == person.id))


def owned_connection(session, person: Person, connection_id: int) -> Connection | None:
    """The person's own connection with that id, or None (the view answers 404)."""
    return session.scalar(select(Connection).where(
        Connection.id == connection_id, Connection.org_id == person.org_id,
        Connection.person_id == person.id))


def waiting_for_admin_consent(session, org_id: int) -> list[tuple[Person, Connection]]:
    """People whose link stopped at "an administrator must approve", oldest request first."""
    rows = session.execute(
        select(Person, Connection).join(Connection, Connection.person_id == Person.id)
        .where(Connection.org_id == org_id, Person.org_id == org_id,
               Connection.admin_consent_requested_at.is_not(None),
               Connection.state == ConnectionState.awaiting_approval)
        .order_by(Connection.admin_consent_requested_at, Person.id))
    return [(p, c) for p, c in rows]


def approval_reported_since(session, connection: Connection | None) -> datetime | None:
    """When an administrator last came back from Microsoft's approval page reporting consent,
    after this connection asked for it; None if nobody has, or the connection is not waiting.
    Only *reported* (the redirect can be forged): the waiting manager is invited to link, which
    is what confirms it."""
    if connection is None or connection.state is not ConnectionState.awaiting_approval:
        return None
    since = connection.admin_consent_requested_at
    return session.scalar(select(func.max(AuditEvent.occurred_at)).where(
        AuditEvent.org_id == connection.org_id,
        AuditEvent.action == Action.admin_consent_returned.value,
        AuditEvent.details["reported"].as_string() == "granted",
        *([AuditEvent.occurred_at >= since] if since else [])))


# --- link --------------------------------------------------------------------------------------
def refuse(session, person: Person, reason: str, message: str, **details) -> LinkRefused:
    """Audit a refused link and return the exception for the caller to raise."""
    audit.record(session, Action.link_refused, person, person, {"reason": reason, **details})
    return LinkRefused(reason, message)


def complete_link(services: Services, session, person: Person, org: Organization, token: dict) -> Connection:
    """Store a token response from the consent redirect as the person's connection.

    ``token`` is authlib's result: the token endpoint's body plus ``userinfo``, the
    verified id_token claims. Raises LinkRefused (already audited) when the account is
    not the person's own, or Microsoft gave no lasting access or no calendar access.
    """
    claims = token.get("userinfo") or {}
    if not claims:
        raise refuse(session, person, "no id_token",
                     "Microsoft did not say which account you chose, so nothing was linked. "
                     "Start again from the 1-on-1s page.")
    tid, oid = (claims.get("tid") or "").lower(), claims.get("oid")
    if not person.oid or tid != org.tenant_id.lower() or oid != person.oid:
        raise refuse(session, person, "account mismatch",
                     "You chose a Microsoft account that is not your own Listening account, so "
                     "nothing was linked. Link Outlook again and sign in as "
                     f"{person.email or 'yourself'}.", same_tenant=tid == org.tenant_id.lower())
    if not token.get("refresh_token"):
        raise refuse(session, person, "no refresh token",
                     "Microsoft did not give Listening lasting access to your calendar (the "
                     "\"Maintain access\" permission was not granted), so nothing was saved. "
                     "Link Outlook again and accept all the permissions listed.")
    granted = tokens.short_scopes(token.get("scope"))
    too_much = sorted(s for s in granted if _WRITE_OR_MAIL.search(s))
    if too_much:
        # Refused before anything is stored: the tokens are dropped with this request.
        raise refuse(session, person, "write or mail scope granted",
                     f"Microsoft granted Listening more than read access to your calendar "
                     f"({', '.join(too_much)}). Listening never keeps write or mail access, so nothing "
                     "was saved and Outlook is not linked. Link Outlook again from the 1-on-1s page "
                     "without adding permissions; if this happens again, ask your Microsoft 365 "
                     "administrator to remove those permissions from Listening.",
                     refused_scopes=too_much)
    if org.calendar_scope not in granted:
        raise refuse(session, person, "calendar scope not granted",
                     "Microsoft did not grant access to your calendar, so nothing was saved.",
                     granted=granted)
    return _store_link(services, session, person, claims, token, granted)


def _store_link(services: Services, session, person: Person, claims: dict, token: dict,
                granted: list[str]) -> Connection:
    """Save the (read-only, checked) grant as the person's linked connection."""
    connection = connection_of(session, person)
    relinked = connection is not None and connection.linked_at is not None
    if connection is None:
        connection = Connection(org_id=person.org_id, person_id=person.id, state=ConnectionState.linked)
        session.add(connection)
        session.flush()
    now = datetime.now(UTC)
    connection.ms_tenant_id, connection.ms_oid = claims["tid"].lower(), claims["oid"]
    connection.account_email = claims.get("preferred_username") or claims.get("email")
    services.tokens.save(session, connection, token)
    connection.linked_at, connection.admin_consent_requested_at = now, None
    connection.failure_count, connection.next_sync_at = 0, now  # the scheduler picks it up now
    states.set_state(session, connection, ConnectionState.linked, None, actor=person)
    audit.record(session, Action.link, person, person,
                 {"connection_id": connection.id, "relinked": relinked, "scopes": granted})
    _confirm_admin_consent(session, person, connection, granted)
    return connection


def _last_seq(session, org_id: int, action: Action, *where):
    return session.scalar(select(func.max(AuditEvent.seq)).where(
        AuditEvent.org_id == org_id, AuditEvent.action == action.value, *where))


def _confirm_admin_consent(session, person: Person, connection: Connection, granted: list[str]) -> None:
    """An administrator's approval is only ever *reported* by a redirect anyone can forge; a
    manager of the organization linking with the calendar scope is what confirms it."""
    reported = _last_seq(session, person.org_id, Action.admin_consent_returned,
                         AuditEvent.details["reported"].as_string() == "granted")
    if reported is None:
        return
    confirmed = _last_seq(session, person.org_id, Action.admin_consent_confirmed)
    if confirmed is None or confirmed < reported:
        audit.record(session, Action.admin_consent_confirmed, person, person,
                     {"reported_at_seq": reported, "connection_id": connection.id,
                      "calendar_scopes": [s for s in granted if s in identity.CALENDAR_SCOPES]})


def note_admin_consent_needed(session, person: Person, code: int | None) -> Connection:
    """Remember that this person waits for an administrator (the HR admin page lists them)."""
    connection = connection_of(session, person)
    if connection is None:
        connection = Connection(org_id=person.org_id, person_id=person.id,
                                state=ConnectionState.awaiting_approval, state_reason=WAITING)
        session.add(connection)
        session.flush()
    elif connection.state is not ConnectionState.linked:
        # A healthy link keeps working while its owner asks for more: only a person with no
        # working link is waiting.
        states.set_state(session, connection, ConnectionState.awaiting_approval, WAITING, actor=person)
    connection.admin_consent_requested_at = datetime.now(UTC)
    session.flush()
    audit.record(session, Action.admin_consent_required, person, person,
                 {"code": code, "connection_id": connection.id})
    return connection


def admin_consent_code(error: str, description: str) -> int | None:
    """The AADSTS code when a redirect error means "an administrator must approve", else None."""
    code = states.aadsts_code(description)
    if error in ("access_denied", "consent_required", "invalid_grant") and code in ADMIN_CONSENT_CODES:
        return code
    return None


# --- unlink ------------------------------------------------------------------------------------
# How long unlink waits for the connection lock. A running sync gives way within about a
# second of someone waiting (listening/sync/watch.py); this bound keeps the page's answer
# within a few seconds even if something else holds the lock.
UNLINK_WAIT_MS = 4000
BUSY = ("A sync of your calendar was still stopping, so nothing was unlinked. "
        "Try again in a moment.")


@dataclass(frozen=True)
class Unlinked:
    calendar_items: int
    one_on_ones_flagged: int
    newly_flagged: tuple[int, ...] = ()  # 1-on-1s that were fine until now (for their events)


def unlink_preview(session, connection: Connection) -> Unlinked:
    """What unlinking would delete and flag, for the page that asks to confirm."""
    items = session.scalar(select(func.count()).select_from(CalendarItem).where(
        CalendarItem.org_id == connection.org_id, CalendarItem.connection_id == connection.id))
    attached = session.scalar(select(func.count()).select_from(OneOnOne).where(
        OneOnOne.org_id == connection.org_id, OneOnOne.manager_id == connection.person_id))
    return Unlinked(items or 0, attached or 0)


class UnlinkBusy(Exception):
    """The connection lock could not be had in time; nothing changed."""


def hold(session, connection: Connection) -> None:
    """The connection lock, then its row, for the rest of the transaction (what unlink takes
    first; the caller may take it earlier, to read what unlink must end elsewhere). Raises
    UnlinkBusy when they cannot be had within UNLINK_WAIT_MS."""
    if not locks.connection_and_row(session, connection.id, UNLINK_WAIT_MS):
        raise UnlinkBusy(BUSY)


def unlink(session, connection: Connection, actor: Person) -> Unlinked:
    """Delete the tokens and every stored calendar item of the connection (one transaction).

    Takes the connection lock first (listening/core/locks.py), so a sync of the same
    calendar gives way and rolls back rather than racing the deletes; raises UnlinkBusy
    when that does not happen within UNLINK_WAIT_MS.
    The attached 1-on-1s stay, marked as needing attention. Microsoft has no revocation
    endpoint: removing the app's consent there is the person's step (the page says how).
    """
    hold(session, connection)
    items = session.execute(delete(CalendarItem).where(
        CalendarItem.org_id == connection.org_id, CalendarItem.connection_id == connection.id)).rowcount
    newly = tuple(session.scalars(select(OneOnOne.id).where(
        OneOnOne.org_id == connection.org_id, OneOnOne.manager_id == connection.person_id,
        OneOnOne.status == OneOnOneStatus.ok).order_by(OneOnOne.id)))
    flagged = session.execute(
        update(OneOnOne).where(OneOnOne.org_id == connection.org_id,
                               OneOnOne.manager_id == connection.person_id)
        .values(status=OneOnOneStatus.needs_attention, attention_reason=UNLINKED_1ON1,
                attention_code=UNLINKED, replacement_series_id=None)).rowcount
    # No address in the audit log: people are named there by internal id only (erasure).
    details = {"connection_id": connection.id, "calendar_items_deleted": items,
               "one_on_ones_flagged": flagged}
    session.delete(connection)  # the tokens go with the row
    session.flush()
    audit.record(session, Action.unlink, actor, connection.person_id, details,
                 org_id=connection.org_id)
    return Unlinked(items, flagged, newly)


def record_admin_consent_return(session, org: Organization, *, reported_granted: bool, error: str | None,
                                reported_tenant: str | None) -> None:
    """The administrator came back from Microsoft's /adminconsent. Recorded as *reported*, never
    as verified: every parameter of that redirect (``admin_consent``, ``tenant``) can be typed
    by whoever holds the link. A manager linking with the calendar scope confirms it later
    (``connection:admin_consent_confirmed``)."""
    audit.record(session, Action.admin_consent_returned, None, None,
                 {"reported": "granted" if reported_granted else "not granted", "verified": False,
                  "error": error and identity.redirect_error(error),
                  "tenant_matches": (reported_tenant or "").lower() == org.tenant_id.lower()},
                 org_id=org.id)



# --- check -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


# What a person pressing "Check connection" reads for a failure that changes nothing about the
# link; every other failure reads as the state it leaves (listening/outlook/connection.py).
PASSING = {
    states.Failure.graph_unavailable: "Microsoft Graph did not answer. Try again in a few minutes.",
    states.Failure.sign_in_unavailable: "Microsoft's sign-in service did not answer. Try again in a few minutes.",
    states.Failure.unreadable_response: "Microsoft Graph sent an answer Listening could not read. Try again later.",
    states.Failure.rejected_request: "Microsoft Graph refused Listening's request. Try again later.",
    states.Failure.unreadable_token: states.UnreadableToken.reason,
}


def check_connection(services: Services, session, connection: Connection, actor: Person) -> CheckResult:
    """Call Graph /me with the stored token (refreshing it if due, and once more after a 401).
    A failure goes through the connection's state machine as a sync's would, so a refused
    permission or mailbox reads the same here and on the page; a passing one changes nothing."""
    now = datetime.now(UTC)
    waiting = states.graph_waiting(connection, now)
    if waiting is not None:  # no request to Graph before the time it asked for
        words = states.graph_wait_words(waiting, now, zone_of(actor.time_zone))
        result = CheckResult(False, words + "; try again then.")
        audit.record(session, Action.check, actor, connection.person_id,
                     {"connection_id": connection.id, "ok": False, "graph_wait": True})
        return result
    try:
        result = _ask_me(services, session, connection)
    except (graph.GraphError, states.TokenError) as exc:
        failure, detail = states.failure_of(exc)
        move = states.fail(session, connection, failure, detail, now, schedule=False,
                           not_before=states.not_before_of(exc, now))
        result = CheckResult(False, PASSING.get(failure) or move.reason)
    audit.record(session, Action.check, actor, connection.person_id,
                 {"connection_id": connection.id, "ok": result.ok})
    return result


def _ask_me(services: Services, session, connection: Connection) -> CheckResult:
    """Graph's /me through the one Graph client: a 401 refreshes the token once; no waiting on
    Retry-After (max_wait 0), the person is waiting for the page."""
    def token(force: bool) -> str:
        return services.tokens.access_token(session, connection, force_refresh=force)

    with services.graph.client(token(False), refresh=lambda: token(True), max_wait=0.0) as client:
        me = client.me()
    if me.get("id") != connection.ms_oid:
        return CheckResult(False, "The saved permission belongs to another Microsoft account. "
                                  "Unlink and link Outlook again.")
    who = me.get("displayName") or "your account"
    address = me.get("mail") or me.get("userPrincipalName")
    return CheckResult(True, f"Connected: Microsoft answered as {who}" +
                       (f" ({address})." if address else "."))
