"""What a connection's state means to the person who owns it: words, and what they may do next.

The one place that turns ``Connection.state`` into the connection panel: its title,
the reason, the permissions in words, the sync times in the person's zone, and which
actions apply. A healthy connection offers no Reconnect; a calendar that was never
linked offers no Unlink; waiting for the organization's approval has its own actions.
Pure: ``now`` and the zone are arguments.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from listening.core.models import Connection, ConnectionState
from listening.core.when import Moment, moment
from listening.outlook import tokens

NOT_LINKED = "not_linked"
# What each permission lets Listening do, as Microsoft's consent page would put it to a person.
PERMISSION_WORDS = {
    "Calendars.Read": "Read your calendar",
    "Calendars.ReadBasic": "Read your calendar without meeting details (times, people and subjects only)",
    "User.Read": "Read your name and email address",
    "offline_access": "Keep reading it until you unlink, without asking you to sign in again",
    "openid": "Sign you in",
    "profile": "See your basic profile",
    "email": "See your email address",
}
# Listed first: what the person most needs to know they granted.
_ORDER = ("Calendars.Read", "Calendars.ReadBasic", "offline_access", "User.Read", "profile", "openid", "email")
TITLES = {
    NOT_LINKED: "Not linked",
    ConnectionState.linked: "Linked",
    ConnectionState.awaiting_approval: "Waiting for your organization's approval",
    ConnectionState.needs_reconnect: "Needs reconnecting",
    ConnectionState.error: "Sync stopped",
    ConnectionState.disabled: "Turned off",
}
OUTCOME_WORDS = {"ok": "finished", "transient": "did not finish (Microsoft was busy)",
                 "failed": "failed", "error": "stopped", "needs_reconnect": "needs reconnecting"}


@dataclass(frozen=True)
class Permission:
    words: str
    scope: str


@dataclass(frozen=True)
class ConnectionStatus:
    connection: Connection | None
    state: str                       # NOT_LINKED or a ConnectionState value
    title: str
    tone: str                        # "ok", "warn" or "info"
    reason: str | None
    account: str | None
    permissions: tuple[Permission, ...]
    last_sync: Moment | None
    last_outcome: str | None
    next_sync: Moment | None
    waiting_since: Moment | None
    approval_reported: Moment | None  # an administrator reported approving since the request
    ever_read: bool                  # has a sync ever finished: only then is "nothing found" true
    # Actions that apply now.
    link_label: str | None           # "Link Outlook", "Reconnect Outlook", or None
    can_check: bool
    can_refresh: bool
    unlink_label: str | None         # "Unlink Outlook", "Withdraw my request", or None
    shows_approval_link: bool

    @property
    def linked(self) -> bool:
        return self.state == ConnectionState.linked.value


def permissions(scopes: str | None) -> tuple[Permission, ...]:
    """Granted scopes in words, most important first (unknown ones by their own name)."""
    granted = tokens.short_scopes(scopes)
    ordered = sorted(granted, key=lambda s: (_ORDER.index(s) if s in _ORDER else len(_ORDER), s))
    return tuple(Permission(PERMISSION_WORDS.get(s, s), s) for s in ordered)


def status(connection: Connection | None, now: datetime, zone: ZoneInfo,
           approval_reported_at: datetime | None = None) -> ConnectionStatus:
    if connection is None:
        return ConnectionStatus(None, NOT_LINKED, TITLES[NOT_LINKED], "info", None, None, (), None, None,
                                None, None, None, False, "Link Outlook", False, False, None, False)
    state = connection.state
    ever_linked = connection.linked_at is not None
    waiting = state is ConnectionState.awaiting_approval
    healthy = state is ConnectionState.linked
    link_label = None if healthy else ("Link Outlook" if waiting or not ever_linked else "Reconnect Outlook")
    return ConnectionStatus(
        connection=connection, state=state.value, title=TITLES[state],
        tone="ok" if healthy and not connection.state_reason else ("info" if waiting else "warn"),
        reason=connection.state_reason,
        account=connection.account_email if ever_linked else None,
        permissions=permissions(connection.scopes) if ever_linked else (),
        last_sync=moment(connection.last_sync_at, zone, now),
        last_outcome=OUTCOME_WORDS.get(connection.last_sync_outcome or "", connection.last_sync_outcome),
        next_sync=moment(connection.next_sync_at, zone, now) if healthy else None,
        waiting_since=moment(connection.admin_consent_requested_at, zone, now) if waiting else None,
        approval_reported=moment(approval_reported_at, zone, now) if waiting else None,
        ever_read=connection.last_sync_at is not None,
        link_label=link_label,
        can_check=ever_linked and state is not ConnectionState.awaiting_approval,
        can_refresh=ever_linked and state in (ConnectionState.linked, ConnectionState.error),
        unlink_label="Unlink Outlook" if ever_linked else ("Withdraw my request" if waiting else None),
        shows_approval_link=waiting,
    )
