"""A linked calendar's state machine: its states, what moves it, and what each failure means.

States (``ConnectionState``): ``linked`` (syncs run), ``awaiting_approval`` (Microsoft
answered that an administrator of the organization must approve Listening first: nothing
is linked until that approval and a new link; linking.note_admin_consent_needed),
``needs_reconnect`` (Microsoft no longer accepts the saved permission: only the person can
fix it, by linking again), ``error`` (Microsoft refuses this mailbox: the person or their
IT team must act, then press "Refresh now"), ``disabled``. How each state reads to its
owner, and which actions it offers, is outlook/status.py.

One table, ``RULES``, says for every kind of failure what it does to the connection:
its outcome, the state it leads to, the words the person reads, and whether the saved
tokens are kept or cleared. The sync, "Check connection" and the token refresh all
decide through it (``failure_of`` turns an exception into a kind; ``fail`` applies
the rule), so one failure reads and behaves the same wherever it happens.

Transitions, with ``now`` an argument (the sync's schedule follows from them):
- success: ``linked``, failure count back to 0, next sync one interval later;
- a transient or unreadable failure: still ``linked``, the reason says what happened,
  next sync after ``backoff(count)`` (2, 4, 8 … minutes, at most 6 hours);
- ``error`` and ``needs_reconnect``: no further sync until the person acts.

Nothing here commits: changes and their audit entries are in the caller's session.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from listening import audit
from listening.audit import Action
from listening.core.models import Connection, ConnectionState
from listening.outlook import graph

BACKOFF_FIRST = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=6)
_AADSTS = re.compile(r"AADSTS(\d+)")


class Outcome(str, enum.Enum):
    """What one sync (or check) came to."""
    ok = "ok"
    skipped = "skipped"          # not linked, or sync turned off for the organization
    busy = "busy"                # another sync of the same connection is running
    transient = "transient"      # try again later, automatically
    failed = "failed"            # something we could not read or did wrong; retried too
    error = "error"              # Microsoft refuses this mailbox; the person must act
    reconnect = "needs_reconnect"


FAILURES = (Outcome.transient, Outcome.failed, Outcome.error, Outcome.reconnect)


# --- the words people read ----------------------------------------------------------------------
REVOKED = "Microsoft withdrew Listening's access to your calendar (for example after a password " \
          "change, or because you or an administrator removed it). Reconnect Outlook."
INACTIVE = "Microsoft's permission expired because it was not used for a long time. Reconnect Outlook."
MFA = "Your organization now asks for a stronger sign-in (multi-factor). Reconnect Outlook to sign in again."
CONSENT = "The permission to read your calendar is no longer granted (your organization may have " \
          "changed it). Reconnect Outlook; an administrator may need to approve it first."
BLOCKED = "Your organization's sign-in policy blocks Listening from your calendar. Ask your IT team."
GENERIC = "Microsoft no longer accepts the saved permission. Reconnect Outlook."
NO_TOKEN = "Outlook is not linked (no saved permission). Link Outlook again."
UNREADABLE = "Listening cannot read the saved permission for this connection"
SIGN_IN_DOWN = "Microsoft's sign-in service did not answer"
# Why Microsoft refused a refresh, by AADSTS code (docs/microsoft-graph.md §8).
AADSTS_WORDS = {
    **dict.fromkeys((70008, 700082, 700084), INACTIVE),
    **dict.fromkeys((50173, 50133, 50132, 54005), REVOKED),
    **dict.fromkeys((50076, 50079, 50078), MFA),
    65001: CONSENT, 53003: BLOCKED,
}
TRANSIENT_REASON = ("The last sync did not finish: Microsoft was busy or unreachable ({detail}). "
                    "Listening tries again automatically ({count} in a row so far).")
FAILED_REASON = ("The last sync failed: {detail}. Listening tries again automatically "
                 "({count} in a row so far); if it keeps failing, tell your IT team.")


def aadsts_code(description: str | None) -> int | None:
    found = _AADSTS.search(description or "")
    return int(found.group(1)) if found else None


# --- failures raised by the token side ----------------------------------------------------------
class TokenError(Exception):
    """Base of the token failures callers handle."""


class ReconnectNeeded(TokenError):
    """The person must link Outlook again; ``reason`` is in plain words for them."""

    def __init__(self, reason: str, code: int | None = None):
        super().__init__(reason)
        self.reason, self.code = reason, code


class TransientTokenError(TokenError):
    """Try again later (the next scheduled run); not the person's problem."""


class TokenConfigurationError(TransientTokenError):
    """Microsoft refused our app registration itself (secret, client id): an operations alert."""


class UnreadableToken(TokenError):
    """A stored token that does not decrypt: tampered with, or stored under a key since removed
    from LISTENING_KEYS. A matter for the operators (the log names the row)."""
    reason = UNREADABLE + ". Unlink and link Outlook again; if that keeps happening, tell your HR admin."


# --- the table ----------------------------------------------------------------------------------
class Failure(str, enum.Enum):
    refresh_refused = "refresh_refused"        # Microsoft refused the refresh token for good
    no_refresh_token = "no_refresh_token"
    graph_refused_token = "graph_refused_token"  # 401 even with a freshly refreshed token
    mailbox_refused = "mailbox_refused"        # mailbox not enabled, access denied (403)
    graph_unavailable = "graph_unavailable"    # throttled, 5xx, network, beyond the wait budget
    sign_in_unavailable = "sign_in_unavailable"  # the token endpoint is down (or refuses us)
    database_unreachable = "database_unreachable"
    unreadable_response = "unreadable_response"  # not JSON, no value list, a foreign nextLink
    rejected_request = "rejected_request"      # any other 4xx: our request was wrong
    unreadable_token = "unreadable_token"
    internal = "internal"


@dataclass(frozen=True)
class Rule:
    outcome: Outcome
    state: ConnectionState      # the state the connection is left in
    words: str | None           # what the person reads (None: the failure's own detail)
    clear_tokens: bool = False  # Microsoft will never accept them again: keep nothing unusable


_linked, _reconnect, _error = ConnectionState.linked, ConnectionState.needs_reconnect, ConnectionState.error
RULES: dict[Failure, Rule] = {
    Failure.refresh_refused: Rule(Outcome.reconnect, _reconnect, None, clear_tokens=True),
    Failure.no_refresh_token: Rule(Outcome.reconnect, _reconnect, NO_TOKEN, clear_tokens=True),
    Failure.graph_refused_token: Rule(Outcome.reconnect, _reconnect, GENERIC, clear_tokens=True),
    Failure.mailbox_refused: Rule(Outcome.error, _error, None),
    Failure.graph_unavailable: Rule(Outcome.transient, _linked, None),
    Failure.sign_in_unavailable: Rule(Outcome.transient, _linked, SIGN_IN_DOWN),
    Failure.database_unreachable: Rule(Outcome.transient, _linked, "the database was unreachable"),
    Failure.unreadable_response: Rule(Outcome.failed, _linked, None),
    Failure.rejected_request: Rule(Outcome.failed, _linked, None),
    Failure.unreadable_token: Rule(Outcome.failed, _linked, UNREADABLE),
    Failure.internal: Rule(Outcome.failed, _linked, None),
}


def failure_of(exc: BaseException) -> tuple[Failure, str]:
    """The kind of a failure and what to say about it (never event content)."""
    if isinstance(exc, graph.PermanentGraphError):
        return Failure.mailbox_refused, exc.reason
    if isinstance(exc, ReconnectNeeded):
        return Failure.refresh_refused, exc.reason
    if isinstance(exc, graph.GraphAuthError):
        return Failure.graph_refused_token, GENERIC
    if isinstance(exc, graph.TransientGraphError):
        return Failure.graph_unavailable, str(exc)
    if isinstance(exc, TransientTokenError):
        return Failure.sign_in_unavailable, SIGN_IN_DOWN
    if isinstance(exc, OperationalError):
        return Failure.database_unreachable, RULES[Failure.database_unreachable].words
    if isinstance(exc, graph.MalformedResponseError):
        return Failure.unreadable_response, str(exc)
    if isinstance(exc, graph.GraphError):
        return Failure.rejected_request, str(exc)
    if isinstance(exc, UnreadableToken):
        return Failure.unreadable_token, UNREADABLE
    return Failure.internal, f"an internal error ({type(exc).__name__})"


# --- transitions --------------------------------------------------------------------------------
def backoff(failure_count: int) -> timedelta:
    """Wait before the next try after ``failure_count`` consecutive failures: 2, 4, 8 ...
    minutes, at most 6 hours. Deterministic, so the schedule is explainable."""
    if failure_count < 1:
        return timedelta(0)
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failure_count - 1, 16))


@dataclass(frozen=True)
class Transition:
    state: ConnectionState
    reason: str | None
    failure_count: int
    next_sync_at: datetime | None
    clear_tokens: bool = False


def after_success(now: datetime, interval_minutes: int) -> Transition:
    return Transition(ConnectionState.linked, None, 0, now + timedelta(minutes=interval_minutes))


def after_failure(failure: Failure, failure_count: int, now: datetime, detail: str) -> Transition:
    """The connection after one more failure; ``failure_count`` is the count before it."""
    rule, count = RULES[failure], failure_count + 1
    words = rule.words or detail
    if rule.state is not ConnectionState.linked:
        return Transition(rule.state, words, count, None, rule.clear_tokens)
    template = TRANSIENT_REASON if rule.outcome is Outcome.transient else FAILED_REASON
    return Transition(ConnectionState.linked, template.format(detail=words, count=count), count,
                      now + backoff(count))


def succeed(session, connection: Connection, now: datetime, interval_minutes: int) -> None:
    _move(session, connection, after_success(now, interval_minutes))


def fail(session, connection: Connection, failure: Failure, detail: str, now: datetime, *,
         actor=None, schedule: bool = True) -> Transition:
    """Apply ``failure`` to the connection. ``schedule`` False (a person's check, not a sync)
    changes only what the failure says about the link itself: its state, reason and tokens."""
    move = after_failure(failure, connection.failure_count or 0, now, detail)
    if not schedule:
        if move.state is ConnectionState.linked:
            return move  # a passing failure says nothing about the link
        set_state(session, connection, move.state, move.reason, actor=actor)
        if move.clear_tokens:
            clear_tokens(connection)
        return move
    _move(session, connection, move, actor=actor)
    return move


def _move(session, connection: Connection, move: Transition, *, actor=None) -> None:
    set_state(session, connection, move.state, move.reason, actor=actor)
    connection.failure_count, connection.next_sync_at = move.failure_count, move.next_sync_at
    if move.clear_tokens:
        clear_tokens(connection)


def clear_tokens(connection: Connection) -> None:
    connection.access_token = connection.refresh_token = connection.access_expires_at = None


def set_state(session, connection: Connection, state: ConnectionState, reason: str | None,
              *, actor=None) -> None:
    """Change state with its plain-words reason; audited when the state actually changes."""
    before = connection.state
    connection.state, connection.state_reason = state, reason
    if before is not state:
        audit.record(session, Action.state_changed, actor, connection.person_id,
                     {"from": before.value if before else None, "to": state.value, "reason": reason},
                     org_id=connection.org_id)
