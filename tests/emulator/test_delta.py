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
