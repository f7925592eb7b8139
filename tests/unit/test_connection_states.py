"""A connection's state machine: what each kind of failure does to it, ``now`` given."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from listening.core.models import ConnectionState
from listening.core.when import zone_of
from listening.outlook import graph
from listening.outlook.connection import (
    GENERIC,
    RULES,
    SIGN_IN_DOWN,
    Failure,
    Outcome,
    ReconnectNeeded,
    SyncStopped,
    TransientTokenError,
    UnreadableToken,
    after_failure,
    after_success,
    backoff,
    failure_of,
    graph_wait_words,
    not_before_of,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("failures, minutes", [
    (0, 0), (1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 64), (7, 128), (8, 256), (9, 360), (50, 360),
])
def test_backoff_doubles_from_two_minutes_up_to_six_hours(failures, minutes):
    assert backoff(failures) == timedelta(minutes=minutes)


def test_success_resets_failures_and_plans_one_interval_later():
    move = after_success(NOW, 45)
    assert (move.state, move.reason, move.failure_count, move.next_sync_at) == \
        (ConnectionState.linked, None, 0, NOW + timedelta(minutes=45))


@pytest.mark.parametrize("failure, words", [(Failure.graph_unavailable, "Microsoft was busy"),
                                            (Failure.unreadable_response, "tell your IT team")])
def test_retryable_failures_stay_linked_back_off_and_say_why(failure, words):
    move = after_failure(failure, 2, NOW, "HTTP 429")
    assert move.state is ConnectionState.linked and move.failure_count == 3 and not move.clear_tokens
    assert move.next_sync_at == NOW + timedelta(minutes=8)
    assert words in move.reason and "HTTP 429" in move.reason and "3 in a row" in move.reason


@pytest.mark.parametrize("failure, state, clear", [
    (Failure.mailbox_refused, ConnectionState.error, False),
    (Failure.refresh_refused, ConnectionState.needs_reconnect, True),
])
def test_permanent_failures_change_state_and_plan_no_retry(failure, state, clear):
    move = after_failure(failure, 0, NOW, "Microsoft cannot open this mailbox")
    assert (move.state, move.reason, move.failure_count, move.next_sync_at, move.clear_tokens) == \
        (state, "Microsoft cannot open this mailbox", 1, None, clear)


def test_every_kind_of_failure_has_exactly_one_rule():
    assert set(RULES) == set(Failure)
    # Whatever leaves the link unusable clears what Microsoft will not accept again, and nothing else does.
    assert {f for f, r in RULES.items() if r.clear_tokens} == \
        {f for f, r in RULES.items() if r.state is ConnectionState.needs_reconnect}
    assert {r.outcome for r in RULES.values()} <= {Outcome.transient, Outcome.failed, Outcome.error,
                                                   Outcome.reconnect, Outcome.stopped}
    # Only a sync stopped on purpose leaves the connection's schedule and failure count alone.
    assert {f for f, r in RULES.items() if not r.counts} == {f for f, r in RULES.items()
                                                             if r.outcome is Outcome.stopped}


@pytest.mark.parametrize("exc, failure, detail", [
    (graph.PermanentGraphError("x", status=404, code="MailboxNotEnabledForRESTAPI"), Failure.mailbox_refused,
     "Microsoft cannot open this mailbox"),
    (ReconnectNeeded("Reconnect, please"), Failure.refresh_refused, "Reconnect, please"),
    (graph.GraphAuthError("401 after refresh", status=401), Failure.graph_refused_token, GENERIC),
    (graph.TransientGraphError("HTTP 429 beyond the budget", status=429), Failure.graph_unavailable,
     "HTTP 429 beyond the budget"),
    (TransientTokenError("temporarily_unavailable"), Failure.sign_in_unavailable, SIGN_IN_DOWN),
    (OperationalError("SELECT 1", {}, Exception("down")), Failure.database_unreachable, "the database"),
    (OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
     Failure.database_unreachable, "the database was unreachable"),
    (psycopg.errors.AdminShutdown("terminating connection"), Failure.database_unreachable, "unreachable"),
    (OperationalError("UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock detected")),
     Failure.database_deadlock, "deadlock"),
    (psycopg.errors.DeadlockDetected("deadlock detected"), Failure.database_deadlock, "deadlock"),
    (OperationalError("SELECT", {}, psycopg.errors.QueryCanceled("statement timeout")),
     Failure.database_timeout, "longer than its time limit"),
    (OperationalError("SELECT", {}, psycopg.errors.LockNotAvailable("lock timeout")),
     Failure.database_timeout, "longer than its time limit"),
    (IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("duplicate key")), Failure.database_error,
     "a database error (SQLSTATE 23505)"),
    (SyncStopped(Failure.stopped_by_unlink), Failure.stopped_by_unlink, "stopped by unlink"),
    (SyncStopped(Failure.stopped_by_shutdown), Failure.stopped_by_shutdown, "worker was shutting down"),
    (graph.MalformedResponseError("page 2 is not JSON"), Failure.unreadable_response, "page 2 is not JSON"),
    (graph.GraphRequestError("Graph answered 400", status=400), Failure.rejected_request, "Graph answered 400"),
    (UnreadableToken(), Failure.unreadable_token, "cannot read the saved permission"),
    (KeyError("boom"), Failure.internal, "an internal error (KeyError)"),
])
def test_every_failure_the_sync_or_a_check_meets_has_one_kind(exc, failure, detail):
    kind, words = failure_of(exc)
    assert kind is failure and detail in words


def test_a_graph_wait_beyond_the_budget_sets_the_next_try_no_earlier_than_graph_asked():
    exc = graph.TransientGraphError("HTTP 429 beyond the budget", status=429, retry_after=300)
    not_before = not_before_of(exc, NOW)
    assert not_before == NOW + timedelta(seconds=300)
    move = after_failure(Failure.graph_unavailable, 0, NOW, str(exc), not_before)
    assert move.next_sync_at == not_before and move.graph_wait_until == not_before  # backoff alone: 2 min
    later = after_failure(Failure.graph_unavailable, 5, NOW, str(exc), not_before)
    assert later.next_sync_at == NOW + timedelta(minutes=64)  # the longer of the two
    assert not_before_of(graph.TransientGraphError("HTTP 503"), NOW) is None


def test_graphs_wait_is_told_in_the_readers_zone():
    words = graph_wait_words(NOW + timedelta(minutes=52), NOW, zone_of("America/New_York"))
    assert words.endswith("(until Mon 2 Mar 2026, 04:52, in 52 minutes)")  # 09:52 UTC is 04:52 EST
    assert "UTC" not in words
