"""What a sync's outcome does to its connection: pure functions, ``now`` is an argument.

- success: state ``linked``, failure count back to 0, next sync one interval later;
- transient (throttled, unavailable, network, token endpoint down): state stays
  ``linked``, the reason says what happened, next sync after ``backoff(count)``;
- failed (a response we could not read, a request Graph rejected, an internal
  error): the same backoff; the job raises, so RQ shows it as failed with the
  reason and its ``Retry`` runs it again (a proxy's error page can be passing);
- error (mailbox not enabled, access denied): state ``error``, no retry until
  the manager presses "Refresh now" or reconnects;
- reconnect (refresh token refused, 401 after a refresh): state ``needs_reconnect``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from listening.core.models import ConnectionState

BACKOFF_FIRST = timedelta(minutes=2)
BACKOFF_CAP = timedelta(hours=6)


class Outcome(str, enum.Enum):
    ok = "ok"
    skipped = "skipped"          # not linked, or sync turned off for the organization
    busy = "busy"                # another sync of the same connection is running
    transient = "transient"
    failed = "failed"
    error = "error"
    reconnect = "needs_reconnect"


FAILURES = (Outcome.transient, Outcome.failed, Outcome.error, Outcome.reconnect)

TRANSIENT_REASON = ("The last sync did not finish: Microsoft was busy or unreachable ({detail}). "
                    "Listening tries again automatically ({count} in a row so far).")
FAILED_REASON = ("The last sync failed: {detail}. Listening tries again automatically "
                 "({count} in a row so far); if it keeps failing, tell your IT team.")


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


def after_success(now: datetime, interval_minutes: int) -> Transition:
    return Transition(ConnectionState.linked, None, 0, now + timedelta(minutes=interval_minutes))


def after_failure(outcome: Outcome, failure_count: int, now: datetime, detail: str) -> Transition:
    """The connection after one more failure; ``failure_count`` is the count before it."""
    count = failure_count + 1
    if outcome is Outcome.error:
        return Transition(ConnectionState.error, detail, count, None)
    if outcome is Outcome.reconnect:
        return Transition(ConnectionState.needs_reconnect, detail, count, None)
    template = TRANSIENT_REASON if outcome is Outcome.transient else FAILED_REASON
    return Transition(ConnectionState.linked, template.format(detail=detail, count=count), count, now + backoff(count))
