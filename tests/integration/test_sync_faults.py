"""Faults a sync must survive, against the emulator's /_emulator/faults API: the outcome, the
connection's state and backoff, and that a failed sync leaves the previous copy whole."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from listening import sync
from listening.core.models import AuditEvent, ConnectionState
from listening.outlook.connection import Outcome
from tests.integration import sync_helpers as h
from tests.integration.sync_helpers import graph_proxy, scale_window
from tests.support import factories as f
from tests.support.apps import clean, make_app, services_of

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _sync_actions(session, org_id):
    session.expire_all()
    return [(e.action, e.details) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(AuditEvent.seq))]


# --- throttling and unavailability ---------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [1, 0.25])
def test_a_throttling_storm_is_waited_out_and_the_sync_completes(app, session, emu, retry_after):
    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="throttle", retry_after=retry_after, times=3, endpoint="calendarView")
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.ok and report.requests == 4 and report.inserted > 0
    assert report.seconds >= 3 * retry_after


def test_503_without_retry_after_is_backed_off_and_the_sync_completes(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="unavailable", status=503, times=2, endpoint="calendarView")
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.ok and report.requests == 3 and report.seconds >= 1.5


def test_throttling_beyond_the_budget_is_transient_backs_off_and_keeps_the_copy(big_app, session, big_emulator):
    connection = f.linked(services_of(big_app), session, big_emulator)
    sync.run(services_of(big_app), connection.id, window=scale_window(big_emulator))
    before = h.row_versions(session, connection.id)
    big_emulator.fault(type="throttle", retry_after=1.5, endpoint="calendarView")  # budget: 2 s
    for count, wait in ((1, 2), (2, 4)):
        now = NOW + timedelta(minutes=count)  # past the 1.5 s Graph asked for last time
        report = sync.run(services_of(big_app), connection.id, now=now, window=scale_window(big_emulator))
        assert report.outcome is Outcome.transient
        after = h.connection(session, connection.id)
        assert after.state is ConnectionState.linked and after.failure_count == count
        assert after.next_sync_at == now + timedelta(minutes=wait)
        # Retry-After beyond the budget, from the second 429 (answered after the 1.5 s waited)
        assert now + timedelta(seconds=3) <= after.graph_wait_until < now + timedelta(seconds=30)
        assert "Microsoft was busy" in after.state_reason and after.last_sync_outcome == "transient"
    assert h.row_versions(session, connection.id) == before
    last = _sync_actions(session, connection.org_id)[-1]
    assert last[0] == "calendar:sync" and last[1]["outcome"] == "transient"


def test_a_success_after_failures_resets_the_backoff(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    connection.failure_count, connection.state_reason = 4, "The last sync did not finish"
    session.commit()
    sync.run(services_of(app), connection.id, now=NOW)
    after = h.connection(session, connection.id)
    assert (after.failure_count, after.state_reason, after.next_sync_at) == (0, None, NOW + timedelta(hours=1))


# --- tokens -----------------------------------------------------------------------------------------
def _when_first_page_served(emu, action):
    """Run ``action`` once the first calendarView page has been answered (paging is slowed down)."""
    emu.fault(type="latency", ms=250, endpoint="calendarView")

    def watch():
        h.wait_for(lambda: emu.stats()["by_endpoint"].get("GET /v1.0/me/calendarView", 0) >= 1)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_an_access_token_expiring_mid_paging_is_refreshed_and_the_sync_completes(big_app, session, big_emulator):
    connection = f.linked(services_of(big_app), session, big_emulator)
    old_token = bytes(connection.access_token)
    watcher = _when_first_page_served(
        big_emulator, lambda: big_emulator.fault(type="expire_tokens", user=connection.account_email))
    report = sync.run(services_of(big_app), connection.id, window=scale_window(big_emulator))
    watcher.join(5)
    assert report.outcome is Outcome.ok and report.inserted == 2500
    assert report.requests == 4  # one page was answered 401, then retried with the new token
    assert bytes(h.connection(session, connection.id).access_token) != old_token  # the new one is saved


def test_a_grant_revoked_mid_sync_needs_reconnect_and_writes_nothing(big_app, session, big_emulator):
    connection = f.linked(services_of(big_app), session, big_emulator)
    sync.run(services_of(big_app), connection.id, window=scale_window(big_emulator))
    first = h.items(session, connection.id)[0].provider_event_id
    big_emulator.calendar(action="set_sensitivity", event_id=first, sensitivity="private")
    before = h.row_versions(session, connection.id)
    watcher = _when_first_page_served(
        big_emulator, lambda: big_emulator.fault(type="revoke_grant", user=connection.account_email))
    report = sync.run(services_of(big_app), connection.id, window=scale_window(big_emulator))
    watcher.join(5)
    assert report.outcome is Outcome.reconnect
    after = h.connection(session, connection.id)
    assert after.state is ConnectionState.needs_reconnect and "Reconnect Outlook" in after.state_reason
    assert after.refresh_token is None and after.next_sync_at is None
    assert h.row_versions(session, connection.id) == before  # the changed event was not written
    actions = [a for a, _ in _sync_actions(session, connection.org_id)]
    assert actions.count("connection:state_changed") == 1 and actions[-1] == "calendar:sync"


# --- permanent errors ---------------------------------------------------------------------------
def test_a_mailbox_not_enabled_puts_the_connection_in_error_without_retry(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    sync.run(services_of(app), connection.id)
    before = h.row_versions(session, connection.id)
    emu.fault(type="mailbox_not_enabled", mailbox=connection.account_email)
    report = sync.run(services_of(app), connection.id, now=NOW)
    after = h.connection(session, connection.id)
    assert report.outcome is Outcome.error and after.state is ConnectionState.error
    assert "Exchange Online licence" in after.state_reason and after.next_sync_at is None
    assert h.row_versions(session, connection.id) == before
    changes = [d for a, d in _sync_actions(session, connection.org_id) if a == "connection:state_changed"]
    assert changes[-1]["from"] == "linked" and changes[-1]["to"] == "error"


def test_access_denied_puts_the_connection_in_error(app, session, emu):
    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="mailbox_not_enabled", mailbox=connection.account_email, enabled=False)

    with app.app_context():
        services_of(app).tokens.save(session, connection, emu.mint_token(connection.account_email, ["User.Read"]))
    session.commit()
    report = sync.run(services_of(app), connection.id)
    assert report.outcome is Outcome.error
    assert h.connection(session, connection.id).state is ConnectionState.error
    assert h.count(session, connection.id) == 0


# --- malformed pages ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["html", "no_value"])
def test_a_malformed_page_fails_the_sync_and_nothing_is_written(database_url, redis_url, key_prefix,
                                                                big_emulator, session, tmp_path, mode):
    with graph_proxy(big_emulator.url, spoil_page=2, mode=mode) as proxy:
        app = make_app(database_url, redis_url, key_prefix, big_emulator.url, tmp_path,
                         graph_url=proxy.url + "/v1.0")
        try:
            connection = f.linked(services_of(app), session, big_emulator)
            report = sync.run(services_of(app), connection.id, now=NOW, window=scale_window(big_emulator))
            assert report.outcome is Outcome.failed and "page 2 of calendarView" in report.detail
            assert h.count(session, connection.id) == 0  # page 1 was stored, then rolled back
            after = h.connection(session, connection.id)
            assert after.state is ConnectionState.linked and after.failure_count == 1
            assert after.next_sync_at == NOW + timedelta(minutes=2) and "page 2" in after.state_reason
        finally:
            session.close()  # its open read would block the TRUNCATE below
            clean(app, key_prefix)


# --- Graph's wait is remembered -------------------------------------------------------------------
def _calendar_requests(emu) -> int:
    return emu.stats()["by_endpoint"].get("GET /v1.0/me/calendarView", 0)


def test_retry_after_300_sets_the_next_try_no_earlier_and_nothing_is_sent_before_it(app, session, emu):
    from jobs import runtime
    from jobs.sync import enqueue_due_syncs
    from listening.sync import queue as sync_queue
    from listening.sync import store as sync_store

    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="throttle", retry_after=300, endpoint="calendarView")
    started = datetime.now(UTC)
    report = sync.run(services_of(app), connection.id)
    after = h.connection(session, connection.id)
    print(f"\nRetry-After: 300 -> requests {report.requests}, graph_wait_until +"
          f"{(after.graph_wait_until - started).total_seconds():.0f} s, next sync +"
          f"{(after.next_sync_at - started).total_seconds():.0f} s")
    assert report.outcome is Outcome.transient and report.requests == 1  # 300 s is beyond the 120 s budget
    assert after.graph_wait_until >= started + timedelta(seconds=300)
    assert after.next_sync_at >= after.graph_wait_until  # no earlier than Microsoft asked (backoff: 2 min)

    # What RQ's retry would run 30 s later, a manual sync, and the sweep: no request before that time.
    sent = _calendar_requests(emu)
    again = sync.run(services_of(app), connection.id, now=started + timedelta(seconds=32))
    assert again.outcome is Outcome.skipped and "asked Listening to wait" in again.detail and again.requests == 0
    runtime.use(services_of(app))
    try:
        assert sync_queue.enqueue_sync(services_of(app), connection.id, trigger="manual")
        h.work(app)
        assert h.job_of(app, connection.id).return_value()["outcome"] == "skipped"  # not raised: no RQ retry
        assert enqueue_due_syncs()["due"] == 0
    finally:
        runtime.use(None)
    with services_of(app).db.unit_of_work() as uow:
        assert connection.id not in sync_store.due_connection_ids(uow, started + timedelta(seconds=152))
        assert connection.id in sync_store.due_connection_ids(uow, after.next_sync_at)
    assert _calendar_requests(emu) == sent
    print(f"calendarView requests before the wait ended: {sent} before the retries, {_calendar_requests(emu)} after")
    emu.clear_faults()
    done = sync.run(services_of(app), connection.id, now=after.graph_wait_until + timedelta(seconds=1))
    assert done.outcome is Outcome.ok and h.connection(session, connection.id).graph_wait_until is None


def test_retry_after_counts_from_microsofts_answer_not_from_the_start_of_the_sync(app, session, emu):
    """A sync that has been reading for a while before Graph asks it to wait 300 s: the wait
    runs from that answer (a 2 s page stands in for a long sync's earlier pages)."""
    connection = f.linked(services_of(app), session, emu)
    emu.fault(type="latency", ms=2000, endpoint="calendarView")
    emu.fault(type="throttle", retry_after=300, endpoint="calendarView")
    started = datetime.now(UTC)
    report = sync.run(services_of(app), connection.id)
    after = h.connection(session, connection.id)
    assert report.outcome is Outcome.transient and report.requests == 1
    # Microsoft answered no sooner than 2 s after the start: no request before that + 300 s.
    assert after.graph_wait_until >= started + timedelta(seconds=302)
    assert after.next_sync_at >= after.graph_wait_until


# --- a short but valid listing ----------------------------------------------------------------------
@pytest.mark.parametrize("spoiled, kept", [(1, 2500), (None, 1000)],
                         ids=["first listing truncated", "both listings truncated"])
def test_a_truncated_listing_is_read_again_before_a_mass_delete(database_url, redis_url, key_prefix, big_emulator,
                                                                 session, tmp_path, spoiled, kept):
    """A page without @odata.nextLink ends a listing early: the first 1,000 of 2,500 events."""
    with graph_proxy(big_emulator.url, spoil_page=None, mode="no_next_link") as proxy:
        app = make_app(database_url, redis_url, key_prefix, big_emulator.url, tmp_path,
                         graph_url=proxy.url + "/v1.0")
        try:
            connection = f.linked(services_of(app), session, big_emulator)
            proxy.spoil_page = -1  # the first sync reads everything
            first = sync.run(services_of(app), connection.id, window=scale_window(big_emulator))
            before = h.count(session, connection.id)
            proxy.pages, proxy.spoil_page = 0, spoiled
            report = sync.run(services_of(app), connection.id, window=scale_window(big_emulator))
            after = h.count(session, connection.id)
            print(f"\n{first.inserted} events held; truncated listing -> {report.second_read}; "
                  f"held before {before}, after {after}")
            assert before == 2500 and report.outcome is Outcome.ok and after == kept
            assert report.second_read == {"held_in_window": 2500, "missing_first": 1500,
                                          "listed_again": kept, "missing_both": 2500 - kept, "pages": 1 + 2 * (kept > 1000)}
            assert report.deleted == 2500 - kept
            entry = _sync_actions(session, connection.org_id)[-1]
            assert entry[0] == "calendar:sync" and entry[1]["second_read"] == report.second_read
        finally:
            session.close()
            clean(app, key_prefix)
