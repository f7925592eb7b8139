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
  next sync after ``backoff(count)`` (2, 4, 8 … minutes, at most 6 hours), and never
  before the time Graph asked us to wait for (``Retry-After`` beyond the sync's wait
  budget: ``graph_wait_until``, before which nothing is sent to Graph);
- ``error`` and ``needs_reconnect``: no further sync until the person acts;
- a sync stopped on purpose (its worker shutting down, the connection being unlinked)
  changes nothing on the connection: it is recorded, and that is all.

Nothing here commits: changes and their audit entries are in the caller's session.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from listening import audit
from listening.audit import Action
from listening.core import db
from listening.core.models import Connection, ConnectionState
from listening.core.when import local_time, relative
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
    stopped = "stopped"          # given up on purpose part-way (shutdown, unlink); nothing kept


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
NO_TOKEN = "Listening holds no saved permission to read your calendar. Reconnect Outlook."
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
    database_unreachable = "database_unreachable"  # no connection, or it was lost
    database_deadlock = "database_deadlock"    # retried at once, once, by the sync
    database_timeout = "database_timeout"      # statement_timeout or lock_timeout
    database_error = "database_error"          # anything else PostgreSQL refused
    unreadable_response = "unreadable_response"  # not JSON, no value list, a foreign nextLink
    rejected_request = "rejected_request"      # any other 4xx: our request was wrong
    unreadable_token = "unreadable_token"
    internal = "internal"
    stopped_by_shutdown = "stopped_by_shutdown"  # the worker was asked to stop (SIGTERM)
    stopped_by_unlink = "stopped_by_unlink"      # unlink or erasure waits for the connection


class SyncStopped(Exception):
    """A sync gave way on purpose part-way through (its transaction rolls back)."""

    def __init__(self, failure: Failure):
        super().__init__(failure.value)
        self.failure = failure


@dataclass(frozen=True)
class Rule:
    outcome: Outcome
    state: ConnectionState      # the state the connection is left in
    words: str | None           # what the person reads (None: the failure's own detail)
    clear_tokens: bool = False  # Microsoft will never accept them again: keep nothing unusable
    counts: bool = True         # False: says nothing about the mailbox; no backoff, no reason


_linked, _reconnect, _error = ConnectionState.linked, ConnectionState.needs_reconnect, ConnectionState.error
RULES: dict[Failure, Rule] = {
    Failure.refresh_refused: Rule(Outcome.reconnect, _reconnect, None, clear_tokens=True),
    Failure.no_refresh_token: Rule(Outcome.reconnect, _reconnect, NO_TOKEN, clear_tokens=True),
    Failure.graph_refused_token: Rule(Outcome.reconnect, _reconnect, GENERIC, clear_tokens=True),
    Failure.mailbox_refused: Rule(Outcome.error, _error, None),
    Failure.graph_unavailable: Rule(Outcome.transient, _linked, None),
    Failure.sign_in_unavailable: Rule(Outcome.transient, _linked, SIGN_IN_DOWN),
    Failure.database_unreachable: Rule(Outcome.transient, _linked, "the database was unreachable"),
    Failure.database_deadlock: Rule(Outcome.transient, _linked, "the database broke a deadlock between "
                                    "this sync and another change to the same calendar"),
    Failure.database_timeout: Rule(Outcome.transient, _linked, "a database statement or lock took "
                                   "longer than its time limit"),
    Failure.database_error: Rule(Outcome.failed, _linked, None),
    Failure.unreadable_response: Rule(Outcome.failed, _linked, None),
    Failure.rejected_request: Rule(Outcome.failed, _linked, None),
    Failure.unreadable_token: Rule(Outcome.failed, _linked, UNREADABLE),
    Failure.internal: Rule(Outcome.failed, _linked, None),
    Failure.stopped_by_shutdown: Rule(Outcome.stopped, _linked, "stopped because its worker was shutting "
                                      "down; nothing was kept and the sync was queued again", counts=False),
    Failure.stopped_by_unlink: Rule(Outcome.stopped, _linked, "stopped by unlink: the connection was being "
                                    "removed (Outlook unlinked, or the person's data erased); nothing was "
                                    "kept", counts=False),
}
_DATABASE = {db.Fault.unreachable: Failure.database_unreachable, db.Fault.deadlock: Failure.database_deadlock,
             db.Fault.timeout: Failure.database_timeout, db.Fault.other: Failure.database_error}


def failure_of(exc: BaseException) -> tuple[Failure, str]:
    """The kind of a failure and what to say about it (never event content)."""
    if isinstance(exc, SyncStopped):
        return exc.failure, RULES[exc.failure].words
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
    fault = db.fault_of(exc)
    if fault is not None:
        failure = _DATABASE[fault]
        return failure, RULES[failure].words or _database_detail(exc)
    if isinstance(exc, graph.MalformedResponseError):
        return Failure.unreadable_response, str(exc)
    if isinstance(exc, graph.GraphError):
        return Failure.rejected_request, str(exc)
    if isinstance(exc, UnreadableToken):
        return Failure.unreadable_token, UNREADABLE
    return Failure.internal, f"an internal error ({type(exc).__name__})"


def _database_detail(exc: BaseException) -> str:
    """A database error by its SQLSTATE (never its message: it can quote row values)."""
    cause = getattr(exc, "orig", None) or exc
    state = getattr(cause, "sqlstate", None)
    return f"a database error (SQLSTATE {state})" if state else f"a database error ({type(cause).__name__})"


def not_before_of(exc: BaseException, now: datetime) -> datetime | None:
    """When Graph asked us to come back, if it asked for longer than the sync could wait."""
    seconds = getattr(exc, "retry_after", None) if isinstance(exc, graph.TransientGraphError) else None
    return now + timedelta(seconds=seconds) if seconds else None


def graph_waiting(connection: Connection, now: datetime) -> datetime | None:
    """Until when Graph asked us to leave this mailbox alone, if that is still ahead."""
    until = connection.graph_wait_until
    return until if until is not None and until > now else None


def graph_wait_words(until: datetime, now: datetime, zone: ZoneInfo) -> str:
    """That wait in words, in the reader's zone: 'Microsoft asked … (until Mon 7 Dec 2026, 15:05,
    in 5 minutes)'."""
    return ("Microsoft asked Listening to wait before reading this calendar again "
            f"(until {local_time(until, zone)}, {relative(until, now)})")


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
    graph_wait_until: datetime | None = None


def after_success(now: datetime, interval_minutes: int) -> Transition:
    return Transition(ConnectionState.linked, None, 0, now + timedelta(minutes=interval_minutes))


def after_failure(failure: Failure, failure_count: int, now: datetime, detail: str,
                  not_before: datetime | None = None) -> Transition:
    """The connection after one more failure; ``failure_count`` is the count before it.
    ``not_before``: Graph asked us not to come back earlier (``not_before_of``)."""
    rule, count = RULES[failure], failure_count + 1
    words = rule.words or detail
    if rule.state is not ConnectionState.linked:
        return Transition(rule.state, words, count, None, rule.clear_tokens)
    template = TRANSIENT_REASON if rule.outcome is Outcome.transient else FAILED_REASON
    next_at = now + backoff(count)
    if not_before is not None and not_before > next_at:
        next_at = not_before
    return Transition(ConnectionState.linked, template.format(detail=words, count=count), count,
                      next_at, graph_wait_until=not_before)


def succeed(session, connection: Connection, now: datetime, interval_minutes: int) -> None:
    _move(session, connection, after_success(now, interval_minutes))


def fail(session, connection: Connection, failure: Failure, detail: str, now: datetime, *,
         actor=None, schedule: bool = True, not_before: datetime | None = None) -> Transition:
    """Apply ``failure`` to the connection. ``schedule`` False (a person's check, not a sync)
    changes only what the failure says about the link itself: its state, reason and tokens
    (and Graph's wait, which binds every request; the next sync comes no later than its end)."""
    if not RULES[failure].counts:
        return Transition(connection.state, connection.state_reason, connection.failure_count or 0,
                          connection.next_sync_at)
    move = after_failure(failure, connection.failure_count or 0, now, detail, not_before)
    if not_before is not None:
        connection.graph_wait_until = not_before
    if not schedule:
        if not_before is not None and connection.next_sync_at is not None \
                and connection.next_sync_at > not_before:
            # Every sync until then is skipped, one a change notification asked for too: the
            # calendar is read when the wait ends, not at the far-off safety net.
            connection.next_sync_at = not_before
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
    if move.failure_count == 0:
        connection.graph_wait_until = None
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
