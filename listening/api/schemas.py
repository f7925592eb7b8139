"""The marshmallow schemas of /api/v1 and of the outbound events.

The same classes write the responses, parse the query strings and, through flask-smorest
and apispec, make the OpenAPI document (listening/api/views.py), so the document cannot
drift from what is served. The event payloads (listening/webhooks/outbox.py) use them too:
an event carries what the API exposes, nothing more.
"""
from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

STATUSES = ("active", "needs_attention")
ROLES = ("employee", "manager", "hr_admin")
MAX_LIMIT = 200
EVENT_TYPES = ("one_on_one.attached", "one_on_one.detached", "one_on_one.needs_attention",
               "one_on_one.restored", "occurrence.ended")


class UtcDateTime(fields.DateTime):
    """An ISO 8601 instant, always written in UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None:
            value = value.astimezone(UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _instant(**metadata):
    return UtcDateTime(format="iso", required=True, metadata=metadata)


class PersonRef(Schema):
    id = fields.Integer(required=True, metadata={"description": "Listening's internal id of the person"})
    email = fields.String(required=True, allow_none=True,
                          metadata={"description": "Null once the person has been erased"})


class OneOnOne(Schema):
    id = fields.Integer(required=True)
    manager = fields.Nested(PersonRef, required=True)
    report = fields.Nested(PersonRef, required=True)
    cadence = fields.String(required=True, allow_none=True, metadata={
        "description": "How often it meets, in words ('weekly', 'every 2 weeks', ...), from the live "
                       "occurrences in the stored calendar; null when there are none"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES), metadata={
        "description": "needs_attention: the series stopped qualifying or disappeared; the manager "
                       "is asked to look at it"})
    attached_since = _instant(description="When the manager attached (or last replaced) the series")
    changed_at = _instant(description="When any field above last changed")


class Occurrence(Schema):
    id = fields.String(required=True, metadata={"description": "Stable id of this occurrence"})
    start = _instant()
    end = _instant()
    cancelled = fields.Boolean(required=True)


class OneOnOneDetail(OneOnOne):
    occurrences = fields.List(fields.Nested(Occurrence), required=True, metadata={
        "description": "Occurrences overlapping the requested range, by start; only times, never "
                       "a subject, attendee or body"})


class OneOnOnePage(Schema):
    items = fields.List(fields.Nested(OneOnOne), required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last page"})


class Person(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)
    manager_id = fields.Integer(required=True, allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    active = fields.Boolean(required=True)


class PeoplePage(Schema):
    items = fields.List(fields.Nested(Person), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class Problem(Schema):
    """RFC 9457 problem details."""
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "Per parameter, what is wrong with it (422)"})


# --- query strings --------------------------------------------------------------------------------
class _Paged(Schema):
    cursor = fields.String(validate=validate.Length(max=100), metadata={
        "description": "`next_cursor` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))


class OneOnOneFilters(_Paged):
    manager = fields.Integer(validate=validate.Range(1, 2**31 - 1),
                             metadata={"description": "Only this manager's (internal id)"})
    report = fields.Integer(validate=validate.Range(1, 2**31 - 1),
                            metadata={"description": "Only with this report (internal id)"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    changed_since = fields.AwareDateTime(default_timezone=UTC, metadata={
        "description": "Only those whose changed_at is at or after this instant"})


class OccurrenceRange(Schema):
    start = fields.AwareDateTime(default_timezone=UTC, metadata={
        "description": "Start of the range (default: 30 days before now, or before end)"})
    end = fields.AwareDateTime(default_timezone=UTC, metadata={
        "description": "End of the range, excluded (default: 30 days after now, or after start). "
                       "At most 366 days after start are read; an end at or before start reads none"})


class PeopleFilters(_Paged):
    active = fields.Boolean(metadata={"description": "Only active (true) or deactivated (false) people"})


# --- outbound events (Standard Webhooks payloads) -------------------------------------------------
class _Event(Schema):
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    timestamp = _instant(description="When the cause happened")


class OneOnOneEvent(_Event):
    data = fields.Nested(OneOnOne, required=True)


class EndedOccurrence(Schema):
    one_on_one = fields.Nested(OneOnOne, required=True)
    occurrence = fields.Nested(Occurrence, required=True)


class OccurrenceEndedEvent(_Event):
    data = fields.Nested(EndedOccurrence, required=True)
