"""The trimmed copy: exactly the declared fields, private details dropped, same as marshmallow's dump;
and the version of the stored fields that each copy records."""
from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import fields

from listening.outlook import events
from listening.outlook.events import (
    PRIVATE_FIELDS,
    SCHEMA,
    SELECT,
    Attendee,
    StoredEvent,
    StoredFields,
    _Part,
    trim,
    utc_instant,
)
from tests.support.data import GRAPH_SAMPLES

STORED = {"id", "iCalUId", "seriesMasterId", "type", "start", "end", "originalStartTimeZone", "isAllDay",
          "isCancelled", "sensitivity", "showAs", "subject", "organizer", "attendees", "responseStatus",
          "isOrganizer", "webLink", "changeKey"}


def full_event(**overrides) -> dict:
    """An event as Graph sends it without $select: many fields we must not keep."""
    event = {
        "@odata.etag": 'W/"DwAAABYAAAA"', "id": "AAMkAGI2T", "createdDateTime": "2026-01-05T10:00:00Z",
        "lastModifiedDateTime": "2026-01-06T10:00:00Z", "changeKey": "DwAAABYAAAA", "categories": ["HR"],
        "originalStartTimeZone": "Pacific Standard Time", "originalEndTimeZone": "Pacific Standard Time",
        "iCalUId": "040000008200E00074C5B7101A82E008000000", "reminderMinutesBeforeStart": 15,
        "hasAttachments": True, "subject": "Ana / Ben 1:1", "bodyPreview": "salary talk",
        "body": {"contentType": "html", "content": "<p>salary talk</p>"}, "importance": "high",
        "sensitivity": "normal", "isAllDay": False, "isCancelled": False, "isOrganizer": True,
        "seriesMasterId": "AAMkAGI2M", "showAs": "busy", "type": "occurrence",
        "webLink": "https://outlook.office365.com/owa/?itemid=AAMkAGI2T",
        "onlineMeeting": {"joinUrl": "https://teams.example/secret"},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "start": {"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"},
        "location": {"displayName": "Room 4", "address": {"street": "1 Main St"}},
        "locations": [{"displayName": "Room 4"}],
        "attendees": [{"type": "required", "status": {"response": "accepted", "time": "2026-01-05T11:00:00Z"},
                       "emailAddress": {"name": "Ben", "address": "ben@contoso.com"},
                       "proposedNewTime": {"start": {}, "end": {}}}],
        "organizer": {"emailAddress": {"name": "Ana", "address": "ana@contoso.com"}},
    }
    event.update(overrides)
    return event


def test_select_names_exactly_the_stored_fields_and_never_a_body():
    assert set(SELECT) == STORED
    assert "body" not in SELECT and "bodyPreview" not in SELECT


def test_every_stored_field_is_a_graph_event_property():
    schema = json.loads((GRAPH_SAMPLES / "event-schema.json").read_text())
    defs = schema["$defs"]

    def properties(name):
        found = set(defs[name].get("properties", {}))
        for part in defs[name].get("allOf", []):
            if "$ref" in part:
                found |= properties(part["$ref"].rsplit("/", 1)[1])
            found |= set(part.get("properties", {}))
        return found

    assert STORED <= properties("microsoft.graph.event")


def test_trim_keeps_only_declared_fields_nested_ones_included():
    kept = trim(full_event())
    assert set(kept) == STORED
    assert kept["attendees"] == [{"type": "required", "status": {"response": "accepted",
                                                                   "time": "2026-01-05T11:00:00Z"},
                                  "emailAddress": {"name": "Ben", "address": "ben@contoso.com"}}]
    assert kept["organizer"] == {"emailAddress": {"name": "Ana", "address": "ana@contoso.com"}}
    text = json.dumps(kept)
    for secret in ("salary", "teams.example", "Room 4", "1 Main St", "HR", "@odata.etag"):
        assert secret not in text


@pytest.mark.parametrize("sensitivity", ["personal", "private", "confidential", None, "unknownFutureValue"])
def test_events_that_are_not_public_lose_subject_attendees_and_web_link(sensitivity):
    kept = trim(full_event(sensitivity=sensitivity))
    for name in PRIVATE_FIELDS:
        assert name not in kept
    assert kept["start"] and kept["organizer"] and kept["changeKey"]


def test_public_events_keep_subject_attendees_and_web_link():
    kept = trim(full_event(sensitivity="normal"))
    assert {"subject", "attendees", "webLink"} <= set(kept)


def test_trim_does_not_touch_its_input():
    event = full_event()
    before = copy.deepcopy(event)
    trim(event)
    assert event == before


def test_missing_fields_stay_missing_and_nulls_stay_null():
    kept = trim({"id": "x", "sensitivity": "normal", "seriesMasterId": None, "attendees": None})
    assert kept == {"id": "x", "sensitivity": "normal", "seriesMasterId": None, "attendees": None}


def test_nested_values_of_the_wrong_shape_are_not_kept_as_they_are():
    kept = trim(full_event(organizer="ana@contoso.com", attendees={"not": "a list"}))
    assert kept["organizer"] is None and kept["attendees"] is None
    kept = trim(full_event(attendees=["text", {"type": "optional", "body": "x"}]))
    assert kept["attendees"] == [{"type": "optional"}]


def test_the_documented_sample_trims_to_the_selected_fields_only():
    sample = json.loads((GRAPH_SAMPLES / "events-select-response.json").read_text())["value"][0]
    kept = trim(dict(sample, sensitivity="normal"))
    assert set(kept) == {"id", "subject", "start", "end", "attendees", "organizer", "sensitivity"}


# --- the fast projection must agree with marshmallow's own dump of the schema -------------------
_text = st.text(max_size=12)
_email = st.fixed_dictionaries({}, optional={"name": _text | st.none(), "address": _text, "extra": _text})
_status = st.fixed_dictionaries({}, optional={"response": _text, "time": _text, "x": _text})
_attendee = st.fixed_dictionaries({}, optional={"type": _text, "status": _status, "emailAddress": _email,
                                                "proposedNewTime": st.just({})})
_when = st.fixed_dictionaries({"dateTime": _text}, optional={"timeZone": _text})
_event = st.fixed_dictionaries({"id": _text}, optional={
    "subject": _text | st.none(), "sensitivity": st.sampled_from(["normal", "private"]),
    "attendees": st.lists(_attendee, max_size=3), "organizer": st.fixed_dictionaries({"emailAddress": _email}),
    "start": _when, "end": _when, "isAllDay": st.booleans(), "isCancelled": st.booleans(),
    "responseStatus": _status, "body": st.just({"content": "secret"}), "webLink": _text,
    "changeKey": _text, "type": _text, "seriesMasterId": _text | st.none(), "categories": st.just(["x"]),
})


@settings(max_examples=200, deadline=None)
@given(_event)
def test_trim_equals_marshmallow_dump_for_well_typed_events(event):
    expected = SCHEMA.dump(event)
    if expected.get("sensitivity") != "normal":
        for name in PRIVATE_FIELDS:
            expected.pop(name, None)
    assert trim(event) == expected


# --- times ----------------------------------------------------------------------------------------
def test_utc_instant_reads_graphs_seven_fractional_digits():
    assert utc_instant({"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "UTC"}) == \
        datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert utc_instant(None) is None and utc_instant({"dateTime": ""}) is None


@pytest.mark.parametrize("written, meant", [
    ("2026-03-02T09:30:00.0000000", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
    ("2026-03-02T09:30:00Z", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
    ("2026-03-02T09:30Z", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
    ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
    ("2026-03-02T09:30+00:00", datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
])
def test_utc_instant_is_always_an_aware_utc_time(written, meant):
    moment = utc_instant({"dateTime": written, "timeZone": "UTC"})
    assert moment == meant and moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0


def test_utc_instant_refuses_a_time_that_is_not_utc():
    with pytest.raises(ValueError):
        utc_instant({"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "Pacific Standard Time"})


# --- the version a stored copy records ------------------------------------------------------------
class _Reordered(_Part):
    changeKey = fields.String(allow_none=True)
    id = fields.String(required=True)


class _Plain(_Part):
    id = fields.String(required=True)
    changeKey = fields.String(allow_none=True)


def _with(**declared) -> StoredFields:
    return StoredFields(type("Changed", (StoredEvent,), declared)())


@pytest.mark.parametrize("changed", [
    StoredFields(StoredEvent(exclude=("webLink",))),
    _with(importance=fields.String(allow_none=True)),
    _with(organizer=fields.Nested(Attendee, allow_none=True)),  # a nested field more
    _with(attendees=fields.Nested(Attendee, allow_none=True)),  # one attendee, not a list
    StoredFields(StoredEvent(), private=("subject", "attendees")),
], ids=["field-removed", "field-added", "nested-field-added", "list-became-one", "private-fields"])
def test_any_change_of_what_is_kept_changes_the_version(changed):
    assert changed.version != events.STORED.version


def test_the_version_ignores_the_order_of_declaration_and_is_the_same_in_every_process():
    assert StoredFields(_Reordered()).version == StoredFields(_Plain()).version
    assert StoredFields(StoredEvent()).version == events.STORED.version
    assert re.fullmatch(r"[0-9a-f]{16}", events.STORED.version)


@settings(max_examples=100, deadline=None)
@given(_event)
def test_a_stored_copy_trims_to_itself(event):
    """What lets ``flask sync --retrim`` trim a stored copy again in place."""
    kept = trim(event)
    assert trim(json.loads(json.dumps(kept))) == kept


def test_a_copy_trimmed_again_with_fewer_fields_loses_exactly_those():
    kept = json.loads(json.dumps(trim(full_event())))
    assert StoredFields(StoredEvent(exclude=("webLink",))).trim(kept) == \
        {k: v for k, v in kept.items() if k != "webLink"}
