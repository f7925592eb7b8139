"""What a sync's outcome does to its connection: a pure table, ``now`` given."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listening.core.models import ConnectionState
from listening.sync.policy import Outcome, after_failure, after_success, backoff

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


@pytest.mark.parametrize("outcome, words", [(Outcome.transient, "Microsoft was busy"),
                                            (Outcome.failed, "tell your IT team")])
def test_retryable_failures_stay_linked_back_off_and_say_why(outcome, words):
    move = after_failure(outcome, 2, NOW, "HTTP 429")
    assert move.state is ConnectionState.linked and move.failure_count == 3
    assert move.next_sync_at == NOW + timedelta(minutes=8)
    assert words in move.reason and "HTTP 429" in move.reason and "3 in a row" in move.reason


@pytest.mark.parametrize("outcome, state", [(Outcome.error, ConnectionState.error),
                                            (Outcome.reconnect, ConnectionState.needs_reconnect)])
def test_permanent_failures_change_state_and_plan_no_retry(outcome, state):
    move = after_failure(outcome, 0, NOW, "Microsoft cannot open this mailbox")
    assert (move.state, move.reason, move.failure_count, move.next_sync_at) == \
        (state, "Microsoft cannot open this mailbox", 1, None)
