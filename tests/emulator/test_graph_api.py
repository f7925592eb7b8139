"""Graph v1.0 over loopback: /me, directReports, calendars, calendarView, events, instances."""
from __future__ import annotations

import json

import jsonschema
import pytest
from emu_helpers import WINDOW

from tests.support.data import GRAPH_SAMPLES

SCHEMA = GRAPH_SAMPLES / "event-schema.json"


@pytest.fixture(scope="module")
def busiest(emulator, people):
    """The person with the most events in WINDOW, and a token with Calendars.Read + User.Read."""
    best = None
    for person in people:
        token = emulator.mint_token(person["email"])["access_token"]
        r = emulator.http.get(emulator.url + "/v1.0/me/calendarView", timeout=30,
                              params={**WINDOW, "$top": 1000, "$select": "subject"},
                              headers={"Authorization": "Bearer " + token})
        count = len(r.json()["value"])
        if best is None or count > best[0]:
            best = (count, person, token)
    return best


def walk(graph, token, first, headers=None):
    """Follow nextLinks; return (pages)."""
    pages = [first.json()]
    while "@odata.nextLink" in pages[-1]:
        nxt = graph(token, pages[-1]["@odata.nextLink"], headers=headers)
        assert nxt.status_code == 200, nxt.text
        pages.append(nxt.json())
    return pages


def error_code(response, status):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["innerError"]["request-id"] and error["innerError"]["date"]
    return error["code"]


def test_me_needs_a_valid_token(emulator, graph):
    assert error_code(graph("", "/me"), 401) == "InvalidAuthenticationToken"
    assert error_code(graph("garbage", "/me"), 401) == "InvalidAuthenticationToken"


def test_me_returns_the_default_user_properties(emulator, graph, manager):
    token = emulator.mint_token(manager["email"], ["User.Read"])["access_token"]
    r = graph(token, "/me", headers={"client-request-id": "abc-1"})
    body = r.json()
    assert r.headers["client-request-id"] == "abc-1" and r.headers["request-id"]
    assert body["id"] == manager["oid"] and body["mail"] == manager["email"]
    assert body["userPrincipalName"] == manager["email"] and body["displayName"] == manager["name"]
    assert set(body) >= {"businessPhones", "givenName", "surname", "jobTitle", "officeLocation",
                         "mobilePhone", "preferredLanguage", "@odata.context"}
    picked = graph(token, "/me", **{"$select": "id,department"}).json()
    assert set(picked) == {"@odata.context", "id", "department"}


def test_me_without_user_read_is_403(emulator, graph, manager):
    token = emulator.mint_token(manager["email"], ["Calendars.Read"])["access_token"]
    assert error_code(graph(token, "/me"), 403) == "Authorization_RequestDenied"


def test_direct_reports_and_manager(emulator, graph, manager, people):
    token = emulator.mint_token(manager["email"], ["User.Read"])["access_token"]
    reports = graph(token, "/me/directReports").json()["value"]
    assert sorted(r["mail"] for r in reports) == sorted(manager["directReports"])
    assert all(r["@odata.type"] == "#microsoft.graph.user" for r in reports)
    report = next(p for p in people if p["email"] == manager["directReports"][0])
    token = emulator.mint_token(report["email"], ["User.Read"])["access_token"]
    assert graph(token, "/me/manager").json()["mail"] == manager["email"]


def test_calendar_calls_need_a_calendar_scope(emulator, graph, manager):
    token = emulator.mint_token(manager["email"], ["User.Read"])["access_token"]
    assert error_code(graph(token, "/me/calendarView", **WINDOW), 403) == "ErrorAccessDenied"


def test_calendars_and_calendar_view_by_calendar_id(emulator, graph, busiest):
    _, _, token = busiest
    calendars = graph(token, "/me/calendars").json()["value"]
    assert len(calendars) == 1 and calendars[0]["isDefaultCalendar"] is True
    cid = calendars[0]["id"]
    by_id = graph(token, f"/me/calendars/{cid}/calendarView", **WINDOW).json()
    plain = graph(token, "/me/calendarView", **WINDOW).json()
    assert [e["id"] for e in by_id["value"]] == [e["id"] for e in plain["value"]]
    missing = graph(token, "/me/calendars/AAMkADnope=/calendarView", **WINDOW)
    assert error_code(missing, 404) == "ErrorItemNotFound"


def test_calendar_view_requires_the_window(emulator, graph, busiest):
    _, _, token = busiest
    r = graph(token, "/me/calendarView", startDateTime=WINDOW["startDateTime"])
    assert error_code(r, 400) == "ErrorInvalidParameter"
    assert "StartDateTime and EndDateTime" in r.json()["error"]["message"]
    assert error_code(graph(token, "/me/calendarView", startDateTime="soon",
                            endDateTime="later"), 400) == "ErrorInvalidParameter"


@pytest.mark.parametrize("top", ["0", "1001", "ten"])
def test_top_outside_1_to_1000_is_400(emulator, graph, busiest, top):
    assert graph(busiest[2], "/me/calendarView", **WINDOW, **{"$top": top}).status_code == 400


def test_default_page_is_10_and_paging_covers_everything_once(emulator, graph, busiest):
    count, _, token = busiest
    assert count > 25
    first = graph(token, "/me/calendarView", **WINDOW)
    assert len(first.json()["value"]) == 10
    pages = walk(graph, token, first)
    ids = [e["id"] for p in pages for e in p["value"]]
    assert len(ids) == count == len(set(ids))
    assert all(e["type"] != "seriesMaster" for p in pages for e in p["value"])
    starts = [e["start"]["dateTime"] for p in pages for e in p["value"]]
    assert starts == sorted(starts)
    link = pages[0]["@odata.nextLink"]
    assert "$skiptoken=" in link and "startDateTime" not in link  # opaque
    tampered = graph(token, link[:-3] + "abc")
    assert error_code(tampered, 400) == "ErrorInvalidParameter"


def test_top_and_maxpagesize_set_the_page_size(emulator, graph, busiest):
    _, _, token = busiest
    assert len(graph(token, "/me/calendarView", **WINDOW, **{"$top": 7}).json()["value"]) == 7
    r = graph(token, "/me/calendarView", headers={"Prefer": "odata.maxpagesize=4"}, **WINDOW)
    assert len(r.json()["value"]) == 4
    assert "odata.maxpagesize=4" in r.headers["Preference-Applied"]


def test_select_keeps_id_and_etag(emulator, graph, busiest):
    _, _, token = busiest
    body = graph(token, "/me/calendarView", **WINDOW, **{"$select": "subject,start"}).json()
    assert body["@odata.context"].endswith("calendarView(subject,start)")
    for event in body["value"]:
        assert set(event) == {"@odata.etag", "id", "subject", "start"}
        assert event["@odata.etag"].startswith('W/"')
    r = graph(token, "/me/calendarView", **WINDOW, **{"$select": "subject,nonsense"})
    assert r.status_code == 400


def test_read_basic_never_returns_bodies(emulator, graph, manager):
    token = emulator.mint_token(manager["email"], ["Calendars.ReadBasic"])["access_token"]
    events = graph(token, "/me/calendarView", **WINDOW, **{"$top": 50}).json()["value"]
    assert events and all("body" not in e and "bodyPreview" not in e for e in events)
    assert all("subject" in e for e in events)
    r = graph(token, "/me/calendarView", **WINDOW, **{"$select": "subject,body"})
    assert error_code(r, 403) == "ErrorAccessDenied"
    full = emulator.mint_token(manager["email"], ["Calendars.Read"])["access_token"]
    events = graph(full, "/me/calendarView", **WINDOW, **{"$top": 5}).json()["value"]
    assert all(e["body"]["contentType"] == "html" and e["body"]["content"] for e in events)


def test_outlook_timezone_preference(emulator, graph, busiest):
    _, _, token = busiest
    utc = graph(token, "/me/calendarView", **WINDOW, **{"$top": 5}).json()["value"]
    prefer = {"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    r = graph(token, "/me/calendarView", headers=prefer, **WINDOW, **{"$top": 5})
    assert r.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    for a, b in zip(utc, r.json()["value"]):
        assert a["start"]["timeZone"] == "UTC" and b["start"]["timeZone"] == "Pacific Standard Time"
        assert a["id"] == b["id"]
        if not a["isAllDay"]:
            assert a["start"]["dateTime"] != b["start"]["dateTime"]
        assert len(b["start"]["dateTime"]) == len("2019-04-16T20:30:00.0000000")


@pytest.mark.parametrize("zone", ["UTC", "Coordinated Universal Time"])
def test_outlook_timezone_utc_serves_the_stored_utc_times(graph, busiest, zone):
    _, _, token = busiest
    plain = graph(token, "/me/calendarView", **WINDOW, **{"$top": 50}).json()["value"]
    r = graph(token, "/me/calendarView", headers={"Prefer": f'outlook.timezone="{zone}"'}, **WINDOW,
              **{"$top": 50})
    assert r.headers["Preference-Applied"] == f'outlook.timezone="{zone}"'
    for a, b in zip(plain, r.json()["value"], strict=True):
        for name in ("start", "end"):
            assert b[name] == {"dateTime": a[name]["dateTime"], "timeZone": zone}


def test_the_utc_shortcut_converts_as_the_general_path_does(graph, busiest):
    from zoneinfo import ZoneInfo

    from emulator import odata

    _, _, token = busiest
    events = graph(token, "/me/calendarView", **WINDOW, **{"$top": 200}).json()["value"]
    assert events
    for event in events:
        for name in ("start", "end"):
            shortcut = odata.convert(event[name], ("UTC", ZoneInfo("UTC")), False)
            general = odata.convert(event[name], ("UTC", ZoneInfo("Etc/GMT")), False)  # UTC+0, not shortcut
            assert shortcut == general


def test_immutable_id_and_text_body_preferences(emulator, graph, busiest):
    _, _, token = busiest
    prefer = {"Prefer": 'IdType="ImmutableId", outlook.body-content-type="text"'}
    r = graph(token, "/me/calendarView", headers=prefer, **WINDOW, **{"$top": 3})
    applied = r.headers["Preference-Applied"]
    assert 'IdType="ImmutableId"' in applied and 'outlook.body-content-type="text"' in applied
    assert all(e["body"]["contentType"] == "text" and "<" not in e["body"]["content"]
               for e in r.json()["value"])


def test_orderby_start_descending(emulator, graph, busiest):
    _, _, token = busiest
    events = graph(token, "/me/calendarView", **WINDOW,
                   **{"$top": 50, "$orderby": "start/dateTime desc"}).json()["value"]
    starts = [e["start"]["dateTime"] for e in events]
    assert starts == sorted(starts, reverse=True)
    assert graph(token, "/me/calendarView", **WINDOW, **{"$orderby": "subject"}).status_code == 400


def test_event_master_and_instances(emulator, graph, busiest):
    _, _, token = busiest
    events = graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()["value"]
    occurrence = next(e for e in events if e["type"] == "occurrence")
    master = graph(token, f"/me/events/{occurrence['seriesMasterId']}").json()
    assert master["type"] == "seriesMaster" and master["recurrence"]["pattern"]["type"]
    assert master["iCalUId"][:32] == occurrence["iCalUId"][:32]
    one = graph(token, f"/me/events/{occurrence['id']}", **{"$select": "subject"}).json()
    assert set(one) >= {"id", "@odata.etag", "subject"} and "body" not in one
    inst = graph(token, f"/me/events/{master['id']}/instances", **WINDOW, **{"$top": 1000})
    values = inst.json()["value"]
    assert occurrence["id"] in [e["id"] for e in values]
    assert all(e["seriesMasterId"] == master["id"] for e in values)
    assert error_code(graph(token, "/me/events/AAMkADnope="), 404) == "ErrorItemNotFound"
    no_window = graph(token, f"/me/events/{master['id']}/instances")
    assert error_code(no_window, 400) == "ErrorInvalidParameter"


def test_served_events_validate_against_the_schema(emulator, graph, busiest):
    schema = json.loads(SCHEMA.read_text())
    wrapped = {"$defs": schema["$defs"],
               "$ref": "#/$defs/microsoft.graph.eventCollectionResponse"}
    validator = jsonschema.Draft202012Validator(wrapped)
    _, _, token = busiest
    body = graph(token, "/me/calendarView", **WINDOW, **{"$top": 1000}).json()
    errors = list(validator.iter_errors(body))
    assert not errors, errors[0]
