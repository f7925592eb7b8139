"""Change and lifecycle notifications over loopback: shape, batching, retries on the emulator
clock, missed, lifecycle events, expiry and the bulk touch (docs/microsoft-graph.md §9)."""
from __future__ import annotations

import pytest
from emu_helpers import WINDOW
from notify_helpers import call, stamp_in, subscribe, token_for
from receiver import wait_for


@pytest.fixture
def pair(people, tenants) -> tuple[dict, dict]:
    """An organizer and an attendee, both with mailboxes, in a tenant without admin consent."""
    easy = [p for p in people if p["tenant"] in
            {t["id"] for t in tenants if not t["requiresAdminConsent"]}]
    return easy[0], easy[1]


def subscribed(emu, receiver, person, **overrides) -> tuple[str, dict]:
    token = token_for(emu, person["email"])
    r = subscribe(emu, token, receiver, **overrides)
    assert r.status_code == 201, r.text
    return token, r.json()


def meeting(emu, organizer, attendee, subject="Notified") -> str:
    done = emu.calendar(action="create_meeting", organizer=organizer["email"],
                        attendees=[attendee["email"]], subject=subject,
                        start="2026-03-10T10:00:00Z", end="2026-03-10T10:30:00Z")
    return done["result"]


def log_entry(emu, **match):
    """The newest delivery-log entry with all of `match`, polled for."""
    def probe():
        found = [d for d in emu.deliveries() if all(d.get(k) == v for k, v in match.items())]
        return found[-1] if found else None
    return wait_for(probe, what=f"a delivery {match}")


def test_a_change_is_posted_with_graphs_shape(emu, receiver, pair):
    organizer, attendee = pair
    token, sub = subscribed(emu, receiver, organizer)
    event_id = meeting(emu, organizer, attendee)
    [item] = receiver.wait_items(1)
    resource = f"Users/{organizer['oid']}/Events/{event_id}"
    etag = call(emu, "GET", token, f"/me/events/{event_id}").json()["@odata.etag"]
    assert item == {"subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "changeType": "created", "resource": resource,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event",
                                     "@odata.id": resource, "@odata.etag": etag,
                                     "id": event_id},
                    "clientState": "secret-state", "tenantId": organizer["tenant"]}
    entry = log_entry(emu, kind="change", outcome="delivered")
    assert entry["subscriptions"] == [sub["id"]] and entry["status"] == 202
    assert entry["url"] == receiver.hook and entry["attempt"] == 1
    summary = emu.notifications()["summary"]
    assert summary["delivered"] == 1 and summary["subscriptions"] == 1


def test_each_mailbox_hears_of_its_own_copy(emu, receiver, pair):
    organizer, attendee = pair
    _, theirs = subscribed(emu, receiver, attendee, lifecycle=False)
    meeting(emu, organizer, attendee)
    [item] = receiver.wait_items(1)
    assert item["subscriptionId"] == theirs["id"] and item["changeType"] == "created"
    assert item["resource"].startswith(f"Users/{attendee['oid']}/Events/")


def test_only_the_subscribed_change_types_arrive(emu, receiver, pair):
    organizer, attendee = pair
    subscribed(emu, receiver, organizer, changeType="deleted")
    event_id = meeting(emu, organizer, attendee)  # created: not subscribed
    emu.calendar(action="set_sensitivity", event_id=event_id, sensitivity="private")  # updated
    emu.calendar(action="delete_series", event_id=event_id)
    items = receiver.wait_items(1)
    assert [i["changeType"] for i in items] == ["deleted"]
    assert items[0]["resourceData"]["id"] == event_id
    assert emu.notifications()["summary"]["queued"] == 1


def test_changes_close_together_share_one_post(emu, receiver, pair):
    organizer, _ = pair
    subscribed(emu, receiver, organizer, lifecycle=False)
    answer = emu.notify(mailboxes=[organizer["email"]], changes_per_mailbox=2)
    assert answer["changed"] == 2 and answer["notifications"] == 2
    items = receiver.wait_items(2)
    assert len(receiver.posts_to("/hook")) == 1
    assert {i["changeType"] for i in items} == {"updated"}
    assert len({i["resourceData"]["id"] for i in items}) == 2


def test_a_failing_endpoint_is_retried_on_the_emulator_clock(emu, receiver, pair):
    organizer, _ = pair
    subscribed(emu, receiver, organizer)
    receiver.status = 500
    emu.notify(mailboxes=[organizer["email"]])
    first = log_entry(emu, kind="change", attempt=1)
    assert first["outcome"] == "http 500" and first["next_attempt"] and not first["dropped"]
    assert emu.subscriptions()[0]["pending_deliveries"] == 1
    receiver.status = 202
    emu.advance_clock(61)  # the first retry is a minute later
    second = log_entry(emu, kind="change", attempt=2)
    assert second["outcome"] == "delivered"
    items = receiver.items()
    assert len(items) == 2 and items[0] == items[1]  # the same notification, sent again
    assert emu.subscriptions()[0]["pending_deliveries"] == 0


def test_a_slow_endpoint_counts_as_failed(emu, receiver, pair):
    organizer, _ = pair
    subscribed(emu, receiver, organizer, lifecycle=False)
    receiver.delay = 1.5  # over this emulator's 1-second limit (3 s at Microsoft)
    emu.notify(mailboxes=[organizer["email"]])
    entry = log_entry(emu, kind="change", attempt=1)
    assert entry["outcome"] in ("timeout", "slow") and entry["next_attempt"]


def test_retries_end_after_four_hours_with_missed(emu, receiver, pair):
    organizer, _ = pair
    _, sub = subscribed(emu, receiver, organizer)
    emu.fault(type="notifications_down", url_prefix=receiver.hook)
    emu.notify(mailboxes=[organizer["email"]])
    assert log_entry(emu, kind="change", attempt=1)["outcome"] == "unreachable"
    emu.advance_clock(61)
    assert log_entry(emu, kind="change", attempt=2)["outcome"] == "unreachable"
    emu.advance_clock(5 * 3600)  # past the 4-hour window: the next retry gives up
    last = log_entry(emu, kind="change", dropped=True)
    assert last["next_attempt"] is None
    # the 5 hours also brought reauthorizationRequired challenges: the token lapsed meanwhile
    missed = wait_for(lambda: next((i for i in receiver.items("/life")
                                    if i["lifecycleEvent"] == "missed"), None), what="missed")
    assert missed == {"subscriptionId": sub["id"],
                      "subscriptionExpirationDateTime": sub["expirationDateTime"],
                      "tenantId": organizer["tenant"], "clientState": "secret-state",
                      "lifecycleEvent": "missed"}
    assert receiver.items() == []
    summary = emu.notifications()["summary"]
    assert summary["dropped"] == 1 and summary["delivered"] == 0
    emu.fault(type="notifications_down", down=False)
    assert emu._call("GET", "/faults")["notifications_down"] == []


def test_lifecycle_events_on_demand(emu, receiver, pair):
    organizer, attendee = pair
    token, sub = subscribed(emu, receiver, organizer)
    _, quiet = subscribed(emu, receiver, attendee, lifecycle=False)
    told = emu.lifecycle("reauthorizationRequired", subscription_id=sub["id"])
    assert told["sent"] == [sub["id"]]
    assert emu.lifecycle("missed", mailbox=attendee["email"])["skipped"] == [quiet["id"]]
    removed = emu.lifecycle("subscriptionRemoved", mailbox=organizer["email"])
    assert removed["removed"] == [sub["id"]] and removed["sent"] == [sub["id"]]
    events = [i["lifecycleEvent"] for i in receiver.wait_items(2, "/life")]
    assert sorted(events) == ["reauthorizationRequired", "subscriptionRemoved"]
    assert call(emu, "GET", token, f"/subscriptions/{sub['id']}").status_code == 404
    assert [s["id"] for s in emu.subscriptions()] == [quiet["id"]]


def test_revoking_the_grant_removes_the_subscription(emu, receiver, pair):
    organizer, attendee = pair
    _, sub = subscribed(emu, receiver, organizer)
    answer = emu.fault(type="revoke_grant", user=organizer["email"])
    assert answer["applied"][0]["subscriptions_removed"] == [sub["id"]]
    [item] = receiver.wait_items(1, "/life")
    assert item["lifecycleEvent"] == "subscriptionRemoved"
    assert emu.subscriptions() == []
    meeting(emu, organizer, attendee)
    assert emu.notifications()["summary"]["queued"] == 0


def test_reauthorization_is_asked_before_the_token_lapses(emu, receiver, pair):
    organizer, attendee = pair
    _, sub = subscribed(emu, receiver, organizer)  # the token lives an hour
    emu.advance_clock(46 * 60)  # within 15 minutes of its end
    [challenge] = receiver.wait_items(1, "/life")
    assert challenge["lifecycleEvent"] == "reauthorizationRequired"
    fresh = token_for(emu, organizer["email"])
    assert call(emu, "POST", fresh, f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    emu.advance_clock(46 * 60)  # the fresh token's turn
    second = receiver.wait_items(2, "/life")[1]
    assert second["lifecycleEvent"] == "reauthorizationRequired"


def test_changes_are_lost_while_the_access_has_lapsed(emu, receiver, pair):
    organizer, attendee = pair
    _, sub = subscribed(emu, receiver, organizer, lifecycle=False)
    emu.advance_clock(61 * 60)  # the creating token expired and nobody reauthorized
    meeting(emu, organizer, attendee)
    summary = emu.notifications()["summary"]
    assert summary["lost"] == 1 and summary["queued"] == 0
    fresh = token_for(emu, organizer["email"])
    assert call(emu, "POST", fresh, f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    meeting(emu, organizer, attendee, subject="After reauthorizing")
    assert receiver.wait_items(1)[0]["changeType"] == "created"


def test_a_subscription_expires_on_the_emulator_clock(emu, receiver, pair):
    organizer, attendee = pair
    subscribed(emu, receiver, organizer, lifecycle=False,
               expirationDateTime=stamp_in(emu, 30))
    emu.advance_clock(31 * 60)
    wait_for(lambda: emu.subscriptions() == [], what="the subscription to expire")
    meeting(emu, organizer, attendee)
    assert emu.notifications()["summary"]["queued"] == 0


def test_bulk_notify_counts_both_ends(emu, receiver, people, pair):
    organizer, attendee = pair
    token, _ = subscribed(emu, receiver, organizer, lifecycle=False)
    subscribed(emu, receiver, attendee, lifecycle=False)
    third = next(p for p in people if p["email"] not in (organizer["email"], attendee["email"]))
    before = call(emu, "GET", token, "/me/calendarView/delta?startDateTime="
                  f"{WINDOW['startDateTime']}&endDateTime={WINDOW['endDateTime']}").json()
    answer = emu.notify(mailboxes=[organizer["email"], attendee["email"], third["email"]],
                        changes_per_mailbox=2, concurrency=4)
    assert answer == {"mailboxes": 3, "changed": 6, "subscribed_mailboxes": 2,
                      "notifications": 4, "concurrency": 4}
    receiver.wait_items(4)
    wait_for(lambda: emu.notifications()["summary"]["delivered"] == 4, what="4 delivered")
    stats = emu.stats()
    assert stats["subscriptions"] == 2 and stats["notifications"]["posts"] == 2
    changed = {i["resourceData"]["id"] for i in receiver.items()
               if i["resource"].startswith(f"Users/{organizer['oid']}/")}
    assert len(changed) == 2
    link = before.get("@odata.deltaLink")
    while link is None:  # finish the first round
        page = call(emu, "GET", token, before["@odata.nextLink"].split("/v1.0", 1)[1]).json()
        before, link = page, page.get("@odata.deltaLink")
    after = call(emu, "GET", token, link.split("/v1.0", 1)[1]).json()
    masters = {e.get("seriesMasterId") or e["id"] for e in after["value"]}
    assert masters & changed  # a re-read sees the touched items as changed


def test_bulk_notify_without_subscriptions_only_changes(emu, pair):
    answer = emu.notify(mailboxes="all", changes_per_mailbox=1)
    assert answer["subscribed_mailboxes"] == 0 and answer["notifications"] == 0
    assert answer["changed"] >= 1 and emu.deliveries() == []


def test_plain_reset_keeps_subscriptions_and_drops_pending_work(emu, receiver, pair):
    organizer, _ = pair
    subscribed(emu, receiver, organizer)
    emu.fault(type="notifications_down")
    emu.notify(mailboxes=[organizer["email"]])
    log_entry(emu, kind="change", attempt=1)
    emu.reset()
    assert len(emu.subscriptions()) == 1 and emu.subscriptions()[0]["pending_deliveries"] == 0
    assert emu.deliveries() == [] and emu.notifications()["summary"]["waiting"] == 0
    emu.reset(tokens=True)
    assert emu.subscriptions() == []


def test_bad_control_bodies_are_400(emu):
    for path, body in (("/lifecycle", {"event": "bogus", "mailbox": "x"}),
                       ("/lifecycle", {"event": "missed"}),
                       ("/lifecycle", {"event": "missed", "subscription_id": "nope"}),
                       ("/notify", {"changes_per_mailbox": -1}),
                       ("/notify", {"mailboxes": "some"}),
                       ("/notify", {"concurrency": 0}),
                       ("/faults", {"type": "notifications_down", "url_prefix": 5})):
        r = emu.http.post(emu.url + "/_emulator" + path, json=body, timeout=10)
        assert r.status_code == 400 and "error" in r.json(), (path, body, r.text)
    assert emu.http.get(emu.url + "/_emulator/notifications?since=x", timeout=10).status_code == 400
