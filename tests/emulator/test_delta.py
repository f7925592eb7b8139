"""calendarView delta over loopback: rounds, @removed, refused options, resets
(docs/microsoft-graph.md §2)."""
from __future__ import annotations

from emu_helpers import WINDOW


def full_round(graph, token, url_or_path, headers=None, **params):
    """Follow nextLinks to the deltaLink; return (items, deltaLink)."""
    r = graph(token, url_or_path, headers=headers, **params)
    items = []
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["value"]
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"]
        assert "$skiptoken=" in body["@odata.nextLink"]
        r = graph(token, body["@odata.nextLink"], headers=headers)


def organizer_occurrence(graph, token):
    events = graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]
    return next(e for e in events if e["type"] == "occurrence" and e["isOrganizer"])


def test_initial_round_then_no_changes(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    page = {"Prefer": "odata.maxpagesize=5"}
    items, link = full_round(graph, token, "/me/calendarView/delta", headers=page, **WINDOW)
    plain = graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]
    assert sorted(e["id"] for e in items) == sorted(e["id"] for e in plain)
    assert all(e["@odata.type"] == "#microsoft.graph.event" and "body" in e for e in items)
    assert "$deltatoken=" in link
    again, _ = full_round(graph, token, link)
    assert again == []


def test_changes_and_removals_come_back_in_the_next_round(emulator, graph, manager, fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    _, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    target = organizer_occurrence(graph, token)
    done = emulator.calendar(action="cancel_occurrence", event_id=target["id"])
    assert done["action"] == "cancel_occurrence"
    items, _ = full_round(graph, token, link)
    removed = [e for e in items if "@removed" in e]
    assert {"@odata.type": "#microsoft.graph.event", "id": target["id"],
            "@removed": {"reason": "deleted"}} in removed


def test_delta_refuses_select_and_top(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    for option in ({"$select": "subject"}, {"$top": "5"}):
        r = graph(token, "/me/calendarView/delta", **WINDOW, **option)
        assert r.status_code == 400 and r.json()["error"]["code"] == "ErrorInvalidUrlQuery"


def test_delta_needs_the_window(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    assert graph(token, "/me/calendarView/delta").status_code == 400


def test_reset_as_410_with_location(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    _, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    emulator.fault(type="delta_reset", mailbox=manager["email"], mode="410")
    r = graph(token, link)
    assert r.status_code == 410 and r.json()["error"]["code"] == "resyncRequired"
    assert r.headers["Location"].endswith("$deltaToken=")
    restarted = graph(token, r.headers["Location"])
    assert restarted.status_code == 200 and restarted.json()["value"]
    assert graph(token, link).json()["error"]["code"] == "syncStateNotFound"  # old token is gone


def test_reset_as_sync_state_not_found(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    _, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    emulator.fault(type="delta_reset", mailbox=manager["email"], mode="syncStateNotFound")
    r = graph(token, link)
    assert r.status_code == 400 and r.json()["error"]["code"] == "syncStateNotFound"


def test_unknown_or_foreign_token_is_sync_state_not_found(emulator, graph, manager, people):
    token = emulator.mint_token(manager["email"])["access_token"]
    r = graph(token, "/me/calendarView/delta", **{"$deltatoken": "made-up"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "syncStateNotFound"
    _, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    other = next(p for p in people if p["email"] != manager["email"])
    theirs = emulator.mint_token(other["email"])["access_token"]
    assert graph(theirs, link).json()["error"]["code"] == "syncStateNotFound"


def test_calendars_read_basic_delta_never_carries_bodies(emulator, graph, manager, fresh_world):
    token = emulator.mint_token(manager["email"], ["Calendars.ReadBasic"])["access_token"]
    items, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    assert items and not any("body" in e or "bodyPreview" in e for e in items)
    target = organizer_occurrence(graph, token)
    emulator.calendar(action="set_sensitivity", event_id=target["id"], sensitivity="private")
    changed, _ = full_round(graph, token, link)
    assert changed and not any("body" in e or "bodyPreview" in e for e in changed)


def test_delta_forbidden_for_one_mailbox(emulator, graph, manager, people):
    token = emulator.mint_token(manager["email"])["access_token"]
    emulator.fault(type="delta_forbidden", mailbox=manager["email"])
    r = graph(token, "/me/calendarView/delta", **WINDOW)
    assert r.status_code == 403 and r.json()["error"]["code"] == "ErrorAccessDenied"
    assert graph(token, "/me/calendarView", **WINDOW).status_code == 200  # the fallback works
    other = next(p for p in people if p["email"] != manager["email"])
    theirs = emulator.mint_token(other["email"])["access_token"]
    assert graph(theirs, "/me/calendarView/delta", **WINDOW).status_code == 200
    emulator.fault(type="delta_forbidden", mailbox=manager["email"], forbidden=False)
    assert graph(token, "/me/calendarView/delta", **WINDOW).status_code == 200


def test_a_replay_resends_items_unchanged_and_out_of_order(emulator, graph, manager, fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    _, link = full_round(graph, token, "/me/calendarView/delta", **WINDOW)
    target = organizer_occurrence(graph, token)
    emulator.calendar(action="cancel_occurrence", event_id=target["id"])
    emulator.fault(type="delta_replay", mailbox=manager["email"], events=2)
    items, link = full_round(graph, token, link)
    ids = [e["id"] for e in items]
    assert ids.count(target["id"]) == 2 and len(ids) == 4  # the change twice, two unchanged
    unchanged = [e for e in items if "@removed" not in e]
    assert len(unchanged) == 2 and all(e["@odata.type"] == "#microsoft.graph.event"
                                       for e in unchanged)
    again, _ = full_round(graph, token, link)
    assert again == []  # one round only


def test_changes_outside_the_window_come_back_as_removed(emulator, graph, manager, people,
                                                        fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    narrow = {"startDateTime": "2026-03-02T00:00:00Z", "endDateTime": "2026-03-07T00:00:00Z"}
    _, link = full_round(graph, token, "/me/calendarView/delta", **narrow)
    other = next(p for p in people if p["email"] != manager["email"]
                 and p["tenant"] == manager["tenant"])
    outside = emulator.calendar(action="create_meeting", organizer=manager["email"],
                                attendees=[other["email"]], subject="Far away",
                                start="2026-04-20T10:00:00Z", end="2026-04-20T10:30:00Z")
    items, _ = full_round(graph, token, link)
    assert {"@odata.type": "#microsoft.graph.event", "id": outside["result"],
            "@removed": {"reason": "deleted"}} in items
    assert all("@removed" in e for e in items)  # nothing inside the window changed
