"""What change notifications survive, each against the emulator over loopback: the endpoint down
for an hour (Graph's retries) or for longer (then ``missed``), a subscription that expired while
no worker ran, a revoked grant, and Redis down while notifications arrive."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from listening.core.models import ConnectionState
from listening.notifications import queue as notify_queue
from listening.notifications import subscriptions
from tests.integration import sync_helpers as h
from tests.integration.notification_helpers import (
    RedisSwitch,
    actions,
    last_seq,
    meeting,
    notify_emulator,  # noqa: F401 - fixture
    serve,
    served,  # noqa: F401 - fixture
    stored_subjects,
    subscribed,
    subscription,
    sync_triggers,
    wait_delivery,
)


def test_the_endpoint_down_for_an_hour_gets_the_change_from_graphs_retries(served, session):
    connection, _ = subscribed(served, session)
    emu, since = served.emu, last_seq(served.emu)
    emu.fault(type="notifications_down", url_prefix=served.base + "/graph/notifications")
    meeting(emu, connection.account_email, "Waited an hour")
    wait_delivery(emu, since, kind="change", outcome="unreachable")
    for attempt, wait in enumerate((1, 2, 4, 8, 16, 32), start=2):  # Graph's retries: all fail
        emu.advance_clock(wait * 60)
        wait_delivery(emu, since, kind="change", attempt=attempt)
    emu.fault(type="notifications_down", url_prefix=served.base + "/graph/notifications", down=False)
    emu.advance_clock(64 * 60)  # back after about an hour: the next retry gets through
    entry = wait_delivery(emu, since, kind="change", outcome="delivered")
    assert entry["attempt"] == 8
    h.work(served.app)
    assert "Waited an hour" in stored_subjects(served, session, connection.id)
    summary = emu.notifications()["summary"]
    assert summary["dropped"] == 0 and summary["lost"] == 0


def test_the_endpoint_down_past_graphs_retries_is_caught_up_by_missed(served, session):
    connection, _ = subscribed(served, session)
    emu, since = served.emu, last_seq(served.emu)
    emu.fault(type="notifications_down", url_prefix=served.base + "/graph/notifications")
    meeting(emu, connection.account_email, "Dropped by Graph")
    wait_delivery(emu, since, kind="change", outcome="unreachable")
    emu.advance_clock(5 * 3600)
    wait_delivery(emu, since, kind="lifecycle", lifecycleEvent="missed", outcome="delivered")
    assert emu.notifications()["summary"]["dropped"] == 1
    h.work(served.app)
    assert "Dropped by Graph" in stored_subjects(served, session, connection.id)
    assert "missed" in sync_triggers(session, connection.org_id)


def test_a_subscription_that_expired_while_no_worker_ran_is_made_again_and_resynced(served, session):
    connection, row = subscribed(served, session)
    emu, old_id = served.emu, row.subscription_id
    later = row.expires_at + timedelta(hours=1)
    emu.advance_clock((later - datetime.now(UTC)).total_seconds())
    h.wait_for(lambda: emu.subscriptions() == [])  # Graph forgets it silently
    meeting(emu, connection.account_email, "Announced to no one")
    upkeep = subscriptions.keep(served.services, connection.id, now=later)
    assert upkeep.action == "created" and upkeep.resync
    notify_queue.sync_later(served.services, connection.id, trigger="subscription")
    h.work(served.app)
    assert "Announced to no one" in stored_subjects(served, session, connection.id)
    assert [a for a, _ in actions(session, connection.org_id)] == [
        "subscription:created", "subscription:removed", "subscription:created"]
    assert actions(session, connection.org_id)[1][1]["reason"] == "expired"
    [graph_side] = emu.subscriptions()
    assert graph_side["id"] == subscription(session, connection.id).subscription_id != old_id


def test_a_revoked_grant_ends_the_subscription_and_the_link_needs_reconnecting(served, session):
    connection, row = subscribed(served, session)
    emu, since = served.emu, last_seq(served.emu)
    emu.fault(type="revoke_grant", user=connection.account_email)
    wait_delivery(emu, since, kind="lifecycle", lifecycleEvent="subscriptionRemoved", outcome="delivered")
    h.work(served.app)
    assert h.connection(session, connection.id).state is ConnectionState.needs_reconnect
    assert subscription(session, connection.id) is None and emu.subscriptions() == []
    removed = [d for a, d in actions(session, connection.org_id) if a == "subscription:removed"]
    assert removed and removed[0]["reason"] == "removed by Microsoft"


@pytest.fixture
def switch():
    relay = RedisSwitch(("127.0.0.1", 6379))
    yield relay
    relay.close()


def test_redis_down_while_notifications_arrive_answers_503_and_loses_nothing(
        database_url, key_prefix, notify_emulator, tmp_path, session, switch):
    with serve(database_url, switch.url, key_prefix, notify_emulator, tmp_path) as served:
        connection, _ = subscribed(served, session)
        emu, since = served.emu, last_seq(served.emu)
        switch.down()
        meeting(emu, connection.account_email, "Queued after Redis came back")
        failed = wait_delivery(emu, since, kind="change", attempt=1)
        assert failed["status"] == 503 or failed["outcome"] == "timeout", failed
        switch.up()
        emu.advance_clock(61)
        wait_delivery(emu, since, kind="change", outcome="delivered")
        h.work(served.app)
        assert "Queued after Redis came back" in stored_subjects(served, session, connection.id)
        summary = emu.notifications()["summary"]
        assert summary["dropped"] == 0 and summary["lost"] == 0
        session.rollback()  # before the app's tables are emptied
