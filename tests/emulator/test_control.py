"""Control API: users, tokens, calendar edits, stats, reset, grants, clock, loopback only."""
from __future__ import annotations

from datetime import datetime, timedelta

import requests
from emu_helpers import WINDOW

from emulator.app import create_app


def post(emulator, path, body):
    return requests.post(emulator.url + "/_emulator" + path, json=body, timeout=30)


def test_users_lists_the_seeded_people(emulator, people, manager):
    assert len(people) >= 30
    assert set(manager) == {"email", "oid", "tenant", "name", "aliases", "jobTitle", "department",
                            "manager", "directReports", "timeZone"}
    report = next(p for p in people if p["email"] == manager["directReports"][0])
    assert report["manager"] == manager["email"]


def test_tokens_mints_usable_tokens(emulator, graph, manager):
    minted = emulator.mint_token(manager["email"], ["User.Read", "Calendars.ReadBasic"])
    assert set(minted) >= {"access_token", "refresh_token", "expires_in", "scope"}
    assert minted["refresh_token"] is None  # offline_access not asked for
    assert minted["scope"].split() == ["https://graph.microsoft.com/User.Read",
                                       "https://graph.microsoft.com/Calendars.ReadBasic"]
    assert graph(minted["access_token"], "/me").json()["id"] == manager["oid"]
    assert post(emulator, "/tokens", {"user": "ghost@nowhere.example"}).status_code == 400
    assert post(emulator, "/tokens", {"user": manager["email"], "scopes": ["Mail.Send"]}).status_code == 400


def test_grants_record_consent(emulator, manager):
    emulator.mint_token(manager["email"], ["Calendars.Read"])
    grants = requests.get(emulator.url + "/_emulator/grants", timeout=10).json()
    assert any(g["oid"] == manager["oid"] and "Calendars.Read" in g["scopes"]
               for g in grants if g["type"] == "user")


def test_stats_count_per_endpoint_and_mailbox(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    graph(token, "/me")
    graph(token, "/me/calendarView", **WINDOW)
    graph(token, "/me/calendarView")
    stats = emulator.stats()
    assert stats["requests"] == 3
    assert stats["by_endpoint"] == {"GET /v1.0/me": 1, "GET /v1.0/me/calendarView": 2}
    assert stats["by_mailbox"] == {manager["email"]: 3}
    assert stats["by_status"] == {"200": 2, "400": 1}
    emulator.reset()
    assert emulator.stats()["requests"] == 0


def test_clock_moves_forward(emulator):
    moved = emulator.advance_clock(120)
    assert moved["offset_seconds"] == 120
    emulator.reset()
    assert emulator.advance_clock(0)["offset_seconds"] == 0
    for bad in (-5, "soon"):
        assert post(emulator, "/clock", {"advance_seconds": bad}).status_code == 400


def occurrences(graph, token):
    events = graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]
    return [e for e in events if e["type"] == "occurrence" and e["isOrganizer"]]


def test_calendar_edits_show_in_graph(emulator, graph, manager, fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    target = occurrences(graph, token)[0]
    start = datetime.fromisoformat(target["start"]["dateTime"][:19]) + timedelta(hours=1)
    end = start + timedelta(minutes=30)
    emulator.calendar(action="move_occurrence", event_id=target["id"],
                      start=start.isoformat() + "Z", end=end.isoformat() + "Z")
    moved = graph(token, f"/me/events/{target['id']}").json()
    assert moved["type"] == "exception" and moved["start"]["dateTime"].startswith(start.isoformat())
    assert moved["changeKey"] != target["changeKey"]
    emulator.calendar(action="set_sensitivity", event_id=target["id"], sensitivity="private")
    assert graph(token, f"/me/events/{target['id']}").json()["sensitivity"] == "private"
    emulator.calendar(action="add_attendee", event_id=target["id"], email="guest@elsewhere.example")
    attendees = graph(token, f"/me/events/{target['id']}").json()["attendees"]
    assert "guest@elsewhere.example" in [a["emailAddress"]["address"] for a in attendees]


def test_copy_and_delete_series(emulator, graph, manager, fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    target = occurrences(graph, token)[0]
    master = target["seriesMasterId"]
    copied = emulator.calendar(action="copy_series", event_id=master)["result"]
    copy = graph(token, f"/me/events/{copied}").json()
    assert copy["type"] == "seriesMaster" and copy["id"] != master
    emulator.calendar(action="delete_series", event_id=master)
    assert graph(token, f"/me/events/{master}").status_code == 404


def test_touch_events_gives_items_new_change_keys_taking_turns(emulator, graph, manager,
                                                               fresh_world):
    token = emulator.mint_token(manager["email"])["access_token"]
    first = emulator.calendar(action="touch_events", mailbox=manager["email"], count=2)["result"]
    second = emulator.calendar(action="touch_events", mailbox=manager["email"], count=2)["result"]
    assert len(first) == len(second) == 2 and not set(first) & set(second)
    before = {e["id"]: e["changeKey"] for e in
              graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]}
    emulator.calendar(action="touch_events", mailbox=manager["email"], count=1000)
    after = {e["id"]: e["changeKey"] for e in
             graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]}
    assert before.keys() == after.keys() and all(before[i] != after[i] for i in before)
    r = post(emulator, "/calendar", {"action": "touch_events", "mailbox": manager["email"],
                                     "count": -1})
    assert r.status_code == 400


def test_calendar_edit_errors_are_400_with_a_message(emulator):
    r = post(emulator, "/calendar", {"action": "delete_series", "event_id": "AAMkADnope="})
    assert r.status_code == 400 and r.json()["error"]
    r = post(emulator, "/calendar", {"action": "launch_rocket"})
    assert r.status_code == 400 and "action must be one of" in r.json()["error"]
    r = post(emulator, "/calendar", {"action": "set_sensitivity", "bogus": 1})
    assert r.status_code == 400


def test_reset_world_restores_the_seed(emulator, graph, manager):
    token = emulator.mint_token(manager["email"])["access_token"]
    target = occurrences(graph, token)[0]
    emulator.calendar(action="cancel_occurrence", event_id=target["id"])
    assert graph(token, f"/me/events/{target['id']}").status_code == 404
    emulator.reset(world=True)
    assert graph(token, f"/me/events/{target['id']}").json()["id"] == target["id"]


def test_control_api_is_loopback_only_and_off_by_default():
    app = create_app(control=True)
    client = app.test_client()
    assert client.get("/_emulator/users").status_code == 200
    remote = client.get("/_emulator/users", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403
    assert create_app(control=False).test_client().get("/_emulator/users").status_code == 404
