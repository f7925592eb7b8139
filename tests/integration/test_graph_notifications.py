"""Graph change notifications against the emulator over loopback: subscriptions made, renewed,
reauthorized and deleted; a change reaching the stored copy; the endpoints' answers
(docs/microsoft-graph.md §9)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from listening.core.models import Connection, ConnectionState, Organization, Person
from listening.notifications import queue as notify_queue
from listening.notifications import subscriptions
from tests.integration import sync_helpers as h
from tests.integration.notification_helpers import (
    actions,
    client_state,
    clock_to,
    delivered,
    last_seq,
    linked,
    meeting,
    notification,
    notify_emulator,  # noqa: F401 - fixture
    post,
    queued,
    served,  # noqa: F401 - fixture
    stored_subjects,
    subscribed,
    subscription,
    sync_triggers,
    wait_delivery,
)
from tests.support import factories as f


def test_a_linked_calendar_gets_one_subscription_with_a_secret_client_state(served, session):
    connection, row = subscribed(served, session)
    [graph_side] = served.emu.subscriptions()
    assert graph_side["id"] == row.subscription_id and graph_side["resource"] == "me/events"
    assert graph_side["changeType"] == "created,updated,deleted"
    assert graph_side["notificationUrl"] == served.base + "/graph/notifications"
    assert graph_side["lifecycleNotificationUrl"] == served.base + "/graph/lifecycle"
    state = client_state(served, row)
    assert len(state) >= 32 and state.encode() not in bytes(row.client_state)
    assert [d["outcome"] for d in delivered(served.emu, kind="validation")] == ["validated", "validated"]
    [(action, details)] = actions(session, connection.org_id)
    assert action == "subscription:created" and details["reason"] == "new"
    assert details["subscription_id"] == row.subscription_id
    # A subscription made is followed by a sync: changes until then were announced to no one.
    assert sync_triggers(session, connection.org_id) == ["subscription"]


def test_a_change_in_outlook_reaches_the_stored_copy_through_a_notification(served, session):
    connection, _ = subscribed(served, session)
    since = last_seq(served.emu)
    meeting(served.emu, connection.account_email, "Pushed to us")
    entry = wait_delivery(served.emu, since, kind="change")
    assert entry["outcome"] == "delivered" and entry["status"] == 202
    h.work(served.app)
    assert "Pushed to us" in stored_subjects(served, session, connection.id)
    assert sync_triggers(session, connection.org_id)[-1] == "notification"


def test_the_sweep_subscribes_calendars_linked_before_and_only_those_read(served, session):
    from jobs import notifications as notify_jobs

    first = linked(served, session)
    second = linked(served, session, email=f.manager_emails(served.emu)[1],
                    org=session.get(Organization, first.org_id))
    second.state = ConnectionState.needs_reconnect
    session.commit()
    assert notify_jobs.sweep_subscriptions() == {"due": 1, "queued": 1}
    h.work(served.app)
    assert subscription(session, first.id) is not None and subscription(session, second.id) is None
    assert notify_jobs.sweep_subscriptions() == {"due": 0, "queued": 0}


def test_sync_turned_off_deletes_the_subscription_at_microsoft(served, session):
    from jobs import notifications as notify_jobs

    connection, row = subscribed(served, session)
    org = session.get(Organization, connection.org_id)
    org.sync_enabled = False
    session.commit()
    notify_jobs.sweep_subscriptions()
    h.work(served.app)
    assert served.emu.subscriptions() == [] and subscription(session, connection.id) is None
    action, details = actions(session, connection.org_id)[-1]
    assert action == "subscription:deleted" and details["reason"] == "sync turned off"
    assert details["deleted_at_microsoft"] is True


def test_without_its_subscription_a_calendar_is_polled_at_the_interval_again(served, session):
    from dataclasses import replace

    from jobs import notifications as notify_jobs
    from jobs import runtime

    connection, _ = subscribed(served, session)
    assert h.connection(session, connection.id).next_sync_at > datetime.now(UTC) + timedelta(hours=23)
    services = served.services
    runtime.use(replace(services, settings=replace(services.settings, public_url=None)))
    notify_jobs.sweep_subscriptions()
    h.work(served.app)
    assert served.emu.subscriptions() == []
    assert actions(session, connection.org_id)[-1][1]["reason"] == "notifications turned off"
    assert h.connection(session, connection.id).next_sync_at <= datetime.now(UTC) + timedelta(minutes=60)


def test_unlink_deletes_the_subscription_at_microsoft(served, session):
    connection, row = subscribed(served, session)
    org_id, person_id = connection.org_id, connection.person_id
    client = served.app.test_client()
    f.sign_in_as(client, session.get(Person, person_id))
    token = f.csrf_token(client, "/one-on-ones")
    response = client.post(f"/outlook/connections/{connection.id}/unlink", data={"csrf_token": token})
    assert response.status_code == 200
    assert served.emu.subscriptions() == []
    [created, deleted] = actions(session, org_id)
    assert created[0] == "subscription:created" and deleted[0] == "subscription:deleted"
    assert deleted[1]["reason"] == "unlinked" and deleted[1]["deleted_at_microsoft"] is True


def _unlink_through_the_page(served, session, connection):
    client = served.app.test_client()
    f.sign_in_as(client, session.get(Person, connection.person_id))
    token = f.csrf_token(client, "/one-on-ones")
    return client.post(f"/outlook/connections/{connection.id}/unlink", data={"csrf_token": token})


def test_a_subscription_made_while_its_calendar_is_unlinked_is_not_left_at_microsoft(served, session):
    """The upkeep job asks Graph for the subscription of a calendar just linked; the manager
    unlinks while Graph is making it (2 s here). Nothing may keep watching that calendar."""
    import threading
    import time

    connection = linked(served, session)
    connection_id, org_id = connection.id, connection.org_id
    served.emu.fault(type="latency", ms=2000, endpoint="POST /v1.0/subscriptions", times=1)
    upkeep = {}
    job = threading.Thread(target=lambda: upkeep.update(
        done=subscriptions.keep(served.services, connection.id)), daemon=True)
    job.start()
    time.sleep(0.7)  # the upkeep is waiting on Graph (its token is fresh: no refresh first)
    assert _unlink_through_the_page(served, session, connection).status_code == 200
    job.join(30)
    assert not job.is_alive()
    assert upkeep["done"].action == "deleted" and served.emu.subscriptions() == []
    assert subscription(session, connection_id) is None
    action, details = actions(session, org_id)[-1]
    assert action == "subscription:deleted" and details["deleted_at_microsoft"] is True


def test_a_subscription_being_saved_while_its_calendar_is_unlinked_is_not_left_at_microsoft(served, session):
    """The upkeep has its subscription from Graph and has written the row, but not committed (held
    here at its audit entry); the manager unlinks then. The unlink must see that subscription."""
    import threading
    import time

    from sqlalchemy import text

    connection = linked(served, session)
    engine = served.services.db.engine
    chain = engine.connect()
    chain.execute(text("SELECT pg_advisory_lock(7000001, :org)"), {"org": connection.org_id})
    chain.commit()
    try:
        upkeep = threading.Thread(target=subscriptions.keep, args=(served.services, connection.id), daemon=True)
        upkeep.start()
        deadline = time.monotonic() + 10
        while not served.emu.subscriptions():
            assert time.monotonic() < deadline, "the upkeep never made the subscription"
            time.sleep(0.05)
        time.sleep(0.3)  # the upkeep now waits at its audit entry, its row written
        answers = []
        unlink = threading.Thread(target=lambda: answers.append(
            _unlink_through_the_page(served, session, connection).status_code), daemon=True)
        unlink.start()
        time.sleep(1.0)  # the unlink waits on the upkeep
    finally:
        chain.execute(text("SELECT pg_advisory_unlock(7000001, :org)"), {"org": connection.org_id})
        chain.close()
    upkeep.join(30)
    unlink.join(30)
    assert answers == [200]
    assert served.emu.subscriptions() == []
    assert actions(session, connection.org_id)[-1][1]["reason"] == "unlinked"


def test_erasure_deletes_the_subscription_at_microsoft(served, session):
    from listening.core.models import Role

    connection, _ = subscribed(served, session)
    org_id, person_id = connection.org_id, connection.person_id
    admin = f.person(session, session.get(Organization, org_id), role=Role.hr_admin)
    session.commit()
    client = served.app.test_client()
    f.sign_in_as(client, admin)
    token = f.csrf_token(client, f"/admin/people/{person_id}")
    response = client.post(f"/admin/people/{person_id}/erase", data={"csrf_token": token, "confirm": "erase"})
    assert response.status_code == 302
    assert served.emu.subscriptions() == []
    action, details = actions(session, org_id)[-1]
    assert action == "subscription:deleted" and details["reason"] == "erased"
    assert details["deleted_at_microsoft"] is True


def test_a_subscription_is_renewed_before_it_expires(served, session):
    connection, row = subscribed(served, session)
    expires = row.expires_at
    soon = expires - subscriptions.RENEW_BEFORE + timedelta(minutes=1)
    clock_to(served.emu, soon)
    upkeep = subscriptions.keep(served.services, connection.id, now=soon)
    assert upkeep.action == "renewed" and not upkeep.resync
    renewed = subscription(session, connection.id)
    assert renewed.subscription_id == row.subscription_id and renewed.expires_at > expires
    [graph_side] = served.emu.subscriptions()
    assert graph_side["expirationDateTime"].startswith(renewed.expires_at.strftime("%Y-%m-%dT%H:%M"))
    assert actions(session, connection.org_id)[-1][0] == "subscription:renewed"


def test_reauthorization_required_is_answered_with_a_reauthorize(served, session):
    connection, row = subscribed(served, session)
    since = last_seq(served.emu)
    served.emu.lifecycle("reauthorizationRequired", subscription_id=row.subscription_id)
    wait_delivery(served.emu, since, kind="lifecycle", outcome="delivered")
    h.work(served.app)
    assert actions(session, connection.org_id)[-1][0] == "subscription:reauthorized"


def _answered_already(served, subscription_id: str, at: datetime) -> bool:
    """A challenge at ``at`` is answered with nothing: no request reaches Graph."""
    before = served.emu.stats()["by_endpoint"]
    upkeep = subscriptions.reauthorize(served.services, subscription_id, now=at)
    return upkeep.action == "none" and served.emu.stats()["by_endpoint"] == before


def test_a_challenge_soon_after_a_renewal_sends_no_reauthorize(served, session):
    """Microsoft asks that a /reauthorize and a PATCH of one subscription come ten minutes
    apart; the PATCH reauthorized it already."""
    connection, row = subscribed(served, session)
    soon = row.expires_at - subscriptions.RENEW_BEFORE + timedelta(minutes=1)
    clock_to(served.emu, soon)
    assert subscriptions.keep(served.services, connection.id, now=soon).action == "renewed"
    assert _answered_already(served, row.subscription_id, soon + timedelta(minutes=9))
    later = subscriptions.reauthorize(served.services, row.subscription_id, now=soon + timedelta(minutes=11))
    assert later.action == "reauthorized"
    assert actions(session, connection.org_id)[-1][0] == "subscription:reauthorized"


def test_a_challenge_just_before_renewal_is_due_renews_instead(served, session):
    """A /reauthorize there would be followed by the sweep's PATCH within ten minutes."""
    connection, row = subscribed(served, session)
    expires = row.expires_at
    at = expires - subscriptions.RENEW_BEFORE - timedelta(minutes=5)
    clock_to(served.emu, at)
    assert subscriptions.reauthorize(served.services, row.subscription_id, now=at).action == "renewed"
    assert subscriptions.keep(served.services, connection.id, now=at + timedelta(minutes=6)).action == "none"
    [graph_side] = served.emu.subscriptions()
    renewed = subscription(session, connection.id)
    assert renewed.expires_at > expires
    assert graph_side["expirationDateTime"].startswith(renewed.expires_at.strftime("%Y-%m-%dT%H:%M"))


def test_a_challenge_repeated_soon_after_a_reauthorize_sends_nothing(served, session):
    """Graph may send a challenge again; renewing then would PATCH within ten minutes of it."""
    connection, row = subscribed(served, session)
    at = row.expires_at - subscriptions.RENEW_BEFORE - subscriptions.REAUTHORIZE_APART - timedelta(minutes=5)
    clock_to(served.emu, at)
    assert subscriptions.reauthorize(served.services, row.subscription_id, now=at).action == "reauthorized"
    assert _answered_already(served, row.subscription_id, at + timedelta(minutes=6))
    later = subscriptions.reauthorize(served.services, row.subscription_id, now=at + timedelta(minutes=11))
    assert later.action == "renewed"


def test_the_sweep_waits_to_renew_until_ten_minutes_after_a_reauthorize(served, session):
    connection, row = subscribed(served, session)
    soon = row.expires_at - subscriptions.RENEW_BEFORE + timedelta(minutes=1)
    clock_to(served.emu, soon)
    row.reauthorized_at = soon - timedelta(minutes=1)  # as another process's clock may have it
    session.commit()
    assert subscriptions.keep(served.services, connection.id, now=soon).action == "none"
    assert subscriptions.keep(served.services, connection.id, now=soon + timedelta(minutes=10)).action == "renewed"


def test_a_subscription_graph_forgot_is_made_again_when_it_asks_for_reauthorization(served, session):
    connection, row = subscribed(served, session)
    old_id = row.subscription_id
    served.emu.forget_subscriptions()
    upkeep = subscriptions.reauthorize(served.services, old_id)
    assert upkeep.action == "created" and upkeep.resync
    [graph_side] = served.emu.subscriptions()
    assert graph_side["id"] == subscription(session, connection.id).subscription_id != old_id
    assert [a for a, _ in actions(session, connection.org_id)][-2:] == ["subscription:removed",
                                                                        "subscription:created"]


def test_a_change_announced_while_microsoft_asks_to_wait_is_read_when_the_wait_ends(served, session):
    """"Check connection" met a throttled mailbox (it waits on no Retry-After, so any sets Graph's
    wait); the notified sync that follows is skipped while that wait lasts. The change must still
    be read when the wait ends, not at the next day's safety net."""
    from jobs.notifications import sync_changed
    from listening.outlook import linking
    from listening.sync import store as sync_store

    connection, _ = subscribed(served, session)
    connection = h.connection(session, connection.id)
    assert connection.next_sync_at > datetime.now(UTC) + timedelta(hours=12)  # the safety net
    served.emu.fault(type="throttle", retry_after=30, endpoint="GET /v1.0/me", times=1)
    check = linking.check_connection(served.services, session, connection, session.get(Person, connection.person_id))
    session.commit()
    wait_ends = h.connection(session, connection.id).graph_wait_until
    assert not check.ok and wait_ends is not None
    assert sync_changed(connection.id)["outcome"] == "skipped"  # the change Graph announced meanwhile
    with served.services.db.unit_of_work() as uow:
        assert connection.id in sync_store.due_connection_ids(uow, wait_ends + timedelta(seconds=1))


def test_the_safety_net_replaces_polling_while_the_subscription_lives(served, session):
    connection, _ = subscribed(served, session)
    session.expire_all()
    synced = session.get(Connection, connection.id)
    gap = synced.next_sync_at - synced.last_sync_at
    assert gap == timedelta(hours=24)
    client = served.app.test_client()
    f.sign_in_as(client, session.get(Person, connection.person_id))
    page = client.get("/one-on-ones").get_data(as_text=True)
    assert "Kept up to date as it changes." in page


def test_without_public_url_calendars_are_polled_as_before(served, session):
    from dataclasses import replace

    from jobs import notifications as notify_jobs
    from jobs import runtime
    from listening import sync

    connection = linked(served, session)
    services = served.services
    runtime.use(replace(services, settings=replace(services.settings, public_url=None)))
    assert notify_jobs.sweep_subscriptions() == {"due": 0, "queued": 0}
    assert sync.run(services, connection.id).outcome.value == "ok"
    synced = h.connection(session, connection.id)
    assert synced.next_sync_at - synced.last_sync_at == timedelta(minutes=60)
    client = served.app.test_client()
    f.sign_in_as(client, session.get(Person, connection.person_id))
    assert "Checked for changes every hour." in client.get("/one-on-ones").get_data(as_text=True)


# --- the endpoints ------------------------------------------------------------------------------
def test_the_validation_handshake_echoes_the_token_as_text(served):
    token = "Validation: Testing client application reachability for subscription Request-Id: 1"
    for path in ("/graph/notifications", "/graph/lifecycle"):
        r = requests.post(served.base + path, params={"validationToken": token}, timeout=5,
                          headers={"Content-Type": "text/plain"})
        assert r.status_code == 200 and r.text == token
        assert r.headers["Content-Type"].startswith("text/plain") and "Set-Cookie" not in r.headers


def test_the_endpoints_take_no_session_and_answer_machines_in_plain_text(served):
    session_cookie = {"session": "eyJwZXJzb24iOjF9.forged"}
    r = requests.post(served.base + "/graph/notifications", json={"value": []}, cookies=session_cookie,
                      timeout=5)
    assert r.status_code == 400 and "Set-Cookie" not in r.headers and r.text == "refused"
    r = requests.get(served.base + "/graph/notifications", timeout=5)
    assert r.status_code == 405 and r.headers["Content-Type"].startswith("text/plain")
    r = requests.post(served.base + "/graph/notifications", data="x", timeout=5,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_forged_notifications_are_refused_counted_and_queue_nothing(served, session):
    from listening.notifications import intake

    connection, row = subscribed(served, session)
    state, tenant = client_state(served, row), connection.ms_tenant_id
    other = "11111111-2222-3333-4444-555555555555"
    forged = {
        "wrong_client_state": notification(row, "not-the-secret", tenant),
        "unknown_subscription": notification(row, state, tenant) | {"subscriptionId": "made-up"},
        "wrong_tenant": notification(row, state, other),
    }
    before = queued(served)
    for reason, item in forged.items():
        r = post(served, "/graph/notifications", {"value": [item]})
        assert r.status_code == 403, reason
        # A forged item hidden among genuine ones spoils the whole POST.
        r = post(served, "/graph/notifications", {"value": [notification(row, state, tenant), item]})
        assert r.status_code == 403, reason
    for body in ({"value": "x"}, [1], {"value": [{"subscriptionId": 5}]}):
        assert post(served, "/graph/notifications", body).status_code == 400
    assert queued(served) == before
    refused = intake.refusals(served.services)
    assert refused == {"wrong_client_state": 2, "unknown_subscription": 2, "wrong_tenant": 2, "no_value": 2,
                       "bad_item": 1}
    assert not [a for a, _ in actions(session, connection.org_id, "") if a.startswith("auth")]


def test_a_subscription_id_postgresql_cannot_hold_is_refused_not_answered_as_an_outage(served, session):
    """A NUL in a subscription id is a forgery's, never Graph's: 400 and counted, not a 503 (which
    asks Graph to retry) with a log line that calls the database unreachable."""
    from listening.notifications import intake

    connection, row = subscribed(served, session)
    item = notification(row, client_state(served, row), connection.ms_tenant_id) | {"subscriptionId": "a\u0000b"}
    for path in ("/graph/notifications", "/graph/lifecycle"):
        assert post(served, path, {"value": [item]}).status_code == 400
    assert intake.refusals(served.services) == {"bad_item": 2}


def test_a_replayed_notification_queues_nothing_more(served, session):
    from listening.notifications import intake

    connection, row = subscribed(served, session)
    item = notification(row, client_state(served, row), connection.ms_tenant_id)
    assert post(served, "/graph/notifications", {"value": [item]}).status_code == 202
    after_first = queued(served)
    assert after_first["sync"] == 1
    for _ in range(3):
        assert post(served, "/graph/notifications", {"value": [item]}).status_code == 202
    assert queued(served) == after_first
    assert intake.counts(served.services) == {"accepted": 1, "replayed": 3}


@pytest.mark.parametrize("served", [{"notify_debounce": 30.0}], indirect=True)
def test_a_burst_for_one_mailbox_becomes_one_sync(served, session):
    connection, row = subscribed(served, session)
    state, tenant = client_state(served, row), connection.ms_tenant_id
    for n in range(20):
        item = notification(row, state, tenant, event_id=f"event-{n % 4}", etag=f'W/"{n}"')
        assert post(served, "/graph/notifications", {"value": [item]}).status_code == 202
    assert queued(served)["scheduled"] == 1
    # Once that sync starts (before it reads the calendar), a change needs a sync of its own.
    notify_queue.claim(served.services, connection.id)
    item = notification(row, state, tenant, event_id="event-late", etag='W/"late"')
    assert post(served, "/graph/notifications", {"value": [item]}).status_code == 202
    assert queued(served)["scheduled"] == 2


@pytest.mark.parametrize("served", [{"notify_debounce": 30.0}], indirect=True)
def test_a_flood_is_answered_and_queues_one_sync(served, session):
    from concurrent.futures import ThreadPoolExecutor

    connection, row = subscribed(served, session)
    state, tenant = client_state(served, row), connection.ms_tenant_id
    genuine = notification(row, state, tenant)
    bodies = [{"value": [genuine]}] * 100 + [{"value": [notification(row, f"guess-{n}", tenant)]}
                                             for n in range(100)]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda b: post(served, "/graph/notifications", b).status_code, bodies))
    assert statuses.count(202) == 100 and statuses.count(403) == 100
    assert queued(served) == {"sync": 0, "maintenance": 0, "scheduled": 1}


def test_no_calendar_data_or_secret_reaches_the_audit_log(served, session):
    connection, row = subscribed(served, session)
    state = client_state(served, row)
    for _, details in actions(session, connection.org_id, ""):
        assert state not in str(details)


def test_the_status_command_reports_subscriptions_and_refusals(served, session):
    connection, row = subscribed(served, session)
    post(served, "/graph/notifications", {"value": [notification(row, "wrong", connection.ms_tenant_id)]})
    result = served.app.test_cli_runner().invoke(args=["notifications", "status"])
    assert result.exit_code == 0, result.output
    assert f"on, at {served.base}/graph/notifications" in result.output
    assert "subscriptions: 1 live, 0 due" in result.output
    assert "refused in the last 24 h: wrong_client_state 1" in result.output
