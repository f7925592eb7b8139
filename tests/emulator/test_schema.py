"""Every event the data layer serves validates against Microsoft's event schema
(tests/data/graph-samples/event-schema.json, generated from Graph's v1.0 metadata)."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator

from emulator.seeds import build_world, window
from tests.support.data import GRAPH_SAMPLES

SCHEMA = GRAPH_SAMPLES / "event-schema.json"
ANCHOR = date(2026, 11, 23)
# Graph returns these on every event; the schema itself marks nothing required.
ALWAYS = {"id", "@odata.etag", "changeKey", "iCalUId", "type", "start", "end", "subject",
          "organizer", "attendees", "isOrganizer", "responseStatus", "sensitivity",
          "showAs", "isAllDay", "isCancelled", "categories", "webLink", "body", "bodyPreview",
          "originalStartTimeZone", "recurrence", "seriesMasterId"}


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    defs = json.loads(SCHEMA.read_text())["$defs"]
    wrapped = {"$defs": defs, "$ref": "#/$defs/microsoft.graph.event"}
    Draft202012Validator.check_schema(wrapped)
    # No format checker: the schema's own patterns already pin the date-time shapes.
    return Draft202012Validator(wrapped)


def check(validator, event: dict) -> None:
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
    assert not errors, f"{event['id']}: {errors[0].message} at {list(errors[0].path)}"
    assert ALWAYS <= event.keys(), ALWAYS - event.keys()
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["start"]["timeZone"] == "UTC" and event["start"]["dateTime"].endswith(".0000000")
    if event["type"] in ("occurrence", "exception"):
        assert event["recurrence"] is None and event["seriesMasterId"] and event["originalStart"]
    if event["type"] == "seriesMaster":
        assert event["recurrence"]["pattern"]["type"] and "originalStart" not in event


def all_events(world, users=None) -> list[dict]:
    """Every (or each given) mailbox's view of the default window, plus its masters."""
    found = []
    for user in users or world.users.values():
        box = world.mailbox(user.oid)
        view = box.view(*window(world.anchor))
        masters = {e["seriesMasterId"] for e in view if e["seriesMasterId"]}
        found += view + [box.get(m) for m in sorted(masters)]
    return found


def test_every_demo_event_and_master_validates(validator):
    events = all_events(build_world("demo", ANCHOR))
    types = {e["type"] for e in events}
    assert types == {"singleInstance", "occurrence", "exception", "seriesMaster"}
    assert len(events) > 2000
    for event in events:
        check(validator, event)


def test_events_still_validate_after_edits(validator):
    now = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    world = build_world("demo", ANCHOR, clock=lambda: now)
    daniel = world.user_by_email("daniel.okafor@contoso.com")
    view = world.mailbox(daniel.oid).view(*window(ANCHOR))
    first = next(e for e in view if e["type"] == "occurrence" and e["isOrganizer"])
    world.set_sensitivity(first["id"], "confidential")
    world.add_attendee(first["seriesMasterId"], "guest@elsewhere.example", "A Guest", "optional")
    world.delete_series(next(e for e in view if not e["isOrganizer"]
                             and e["type"] == "occurrence")["seriesMasterId"])
    world.create_meeting(daniel.email, ["ana.costa@contoso.com"], "New", now,
                         now + timedelta(hours=1))
    touched = [daniel, world.user_by_email("james.smith@contoso.com")]
    for event in all_events(world, touched):
        check(validator, event)


def test_scale_events_validate(validator):
    world = build_world("scale", ANCHOR, people=3, events=60)
    for event in all_events(world):
        check(validator, event)
