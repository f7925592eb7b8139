"""The trimmed copy of a Graph event that we keep: exactly these fields, nothing else.

The marshmallow schema below IS the list of stored fields: the less we hold of a
calendar, the less there is to leak, so Graph's other properties (body,
bodyPreview, location, categories, online meeting links...) are dropped. Events
whose sensitivity is not ``normal`` lose their subject, attendees and web link
as well: the product only ever looks at public 1-on-1s, so it has no reason to
keep private details.

``StoredFields`` derives everything else from the schema: the ``$select`` we
send Graph (so what we ask for and what we store can never drift apart), the
trim itself, and the version a stored copy records (``calendar_items.trim_version``)
so that a change of the stored fields reaches every stored copy at its next sync.
"""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from marshmallow import EXCLUDE, Schema, fields

PUBLIC = "normal"
PRIVATE_FIELDS = ("subject", "attendees", "webLink")


class _Part(Schema):
    class Meta:
        unknown = EXCLUDE


class DateTimeTimeZone(_Part):
    dateTime = fields.String()
    timeZone = fields.String(allow_none=True)


class EmailAddress(_Part):
    name = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class Recipient(_Part):
    emailAddress = fields.Nested(EmailAddress, allow_none=True)


class ResponseStatus(_Part):
    response = fields.String(allow_none=True)
    time = fields.String(allow_none=True)


class Attendee(_Part):
    type = fields.String(allow_none=True)
    status = fields.Nested(ResponseStatus, allow_none=True)
    emailAddress = fields.Nested(EmailAddress, allow_none=True)


class StoredEvent(_Part):
    """The stored fields of one event (docs/microsoft-graph.md §3 for their meaning)."""
    id = fields.String(required=True)
    iCalUId = fields.String(allow_none=True)
    seriesMasterId = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    start = fields.Nested(DateTimeTimeZone, allow_none=True)
    end = fields.Nested(DateTimeTimeZone, allow_none=True)
    originalStartTimeZone = fields.String(allow_none=True)
    isAllDay = fields.Boolean(allow_none=True)
    isCancelled = fields.Boolean(allow_none=True)
    sensitivity = fields.String(allow_none=True)
    showAs = fields.String(allow_none=True)
    subject = fields.String(allow_none=True)
    organizer = fields.Nested(Recipient, allow_none=True)
    attendees = fields.List(fields.Nested(Attendee), allow_none=True)
    responseStatus = fields.Nested(ResponseStatus, allow_none=True)
    isOrganizer = fields.Boolean(allow_none=True)
    webLink = fields.String(allow_none=True)
    changeKey = fields.String(allow_none=True)


def _plan(schema: Schema) -> tuple:
    """(plain field names, the same as a set, ((name, nested plan, is a list), ...)) of a schema."""
    plain, nested = [], []
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            nested.append((name, _plan(inner.schema), isinstance(field, fields.List)))
        else:
            plain.append(name)
    return tuple(plain), frozenset(plain), tuple(nested)


def _project(value: dict, plan: tuple) -> dict:
    plain, allowed, nested = plan
    if not nested and value.keys() <= allowed:
        # A leaf object (start, emailAddress, status...) that already holds only declared
        # fields, as Graph sends them: kept as it is rather than copied.
        return value
    out = {name: value[name] for name in plain if name in value}
    for name, inner, many in nested:
        if name not in value:
            continue
        item = value[name]
        if many:
            item = [_project(x, inner) for x in item if isinstance(x, dict)] \
                if isinstance(item, list) else None
        else:
            item = _project(item, inner) if isinstance(item, dict) else None
        out[name] = item
    return out


# Raise when trim() changes what it keeps of the same fields: the version then changes too, and
# every stored copy is rewritten at its next sync.
_RULES = 1


def _canonical(plan: tuple) -> list:
    """The plan without the order of declaration (which changes nothing stored)."""
    plain, _, nested = plan
    return [sorted(plain), sorted([name, _canonical(inner), many] for name, inner, many in nested)]


class StoredFields:
    """One version of the stored schema: what we ask Graph for, the trim, and the version."""

    def __init__(self, schema: Schema, private: tuple[str, ...] = PRIVATE_FIELDS):
        self.schema, self.private = schema, private
        # What we ask Graph for: the stored fields and nothing more (never body or bodyPreview).
        self.select = tuple(schema.fields)
        self._plan = _plan(schema)
        # Short, and the same in every process: stored on every row and compared on every sync.
        plan = repr([_RULES, _canonical(self._plan), sorted(private), PUBLIC])
        self.version = hashlib.sha256(plan.encode()).hexdigest()[:16]

    def trim(self, event: dict) -> dict:
        """The stored form of one Graph event: undeclared fields dropped, private details removed.

        The schema declares the fields; this walks that declaration directly instead
        of calling ``schema.dump``, which costs about 140 µs per event here (20,000
        events: 2.9 s, more than the whole sync budget) against about 8 µs. Graph's
        values are already of the declared types; a nested value of the wrong shape
        becomes None. The result may share leaf objects with ``event`` (never modified).
        tests/unit/test_provider_data.py checks that both give the same result. A stored
        copy trims to itself, so a copy kept under older fields can be trimmed again.
        """
        kept = _project(event, self._plan)
        if kept.get("sensitivity") != PUBLIC:
            for name in self.private:
                kept.pop(name, None)
        return kept


# The stored schema of this code. The sync reads it when it starts, through this module.
STORED = StoredFields(StoredEvent())
SCHEMA = STORED.schema
SELECT = STORED.select


def trim(event: dict) -> dict:
    """``STORED.trim``: the stored form of one Graph event."""
    return STORED.trim(event)


def utc_instant(value: dict | None) -> datetime | None:
    """A Graph dateTimeTimeZone that we asked for in UTC, as an aware datetime.

    Graph writes 7 fractional digits ("2024-04-16T20:30:00.0000000"); Python reads
    at most 6, and sub-second precision means nothing for a calendar, so the
    seconds are where we cut.
    """
    if not value or not value.get("dateTime"):
        return None
    zone = value.get("timeZone")
    if zone not in (None, "UTC", "tzone://Microsoft/Utc"):
        raise ValueError(f"expected a UTC time, got time zone {zone!r}")
    text = value["dateTime"]
    if len(text) >= 19 and text[10] == "T" and text[13] == text[16] == ":":
        # Graph's full form. The offset in the string, not .replace(tzinfo=UTC): 0.3 µs against
        # 1.8 µs, twice per event.
        return datetime.fromisoformat(text[:19] + "+00:00")
    return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)  # other forms ("2026-03-02", "...T09:30Z")
