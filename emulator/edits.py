"""Edits to the world, for the control API (POST /_emulator/calendar) and tests.

Each edit bumps the changeKey of every affected copy and logs the change in each
affected mailbox, so calendarView delta can report it.  An event id may be any
mailbox's id for the meeting: a master, a single event, or an occurrence.
Bad input raises KeyError (unknown id) or ValueError (an edit that cannot apply).
"""
from __future__ import annotations

from datetime import date, datetime

from . import calendar as cal
from . import ids
from .factory import clone, new_meeting
from .meeting import Attendee, Copy, Meeting, Override

_aware = cal.utc

SENSITIVITIES = ("normal", "personal", "private", "confidential")
RESPONSES = ("none", "accepted", "tentativelyAccepted", "declined", "notResponded")
ATTENDEE_TYPES = ("required", "optional", "resource")


class Edits:
    """Mixed into World; relies on its _copies, _copies_of, version and clock."""

    # -- lookups -------------------------------------------------------------
    def _find(self, event_id: str) -> tuple[Copy, date | None]:
        copy = self._copies.get(event_id)
        if copy is not None:
            return copy, None
        parsed = ids.parse_occurrence_id(event_id or "")
        if parsed is not None and parsed[0] in self._copies:
            return self._copies[parsed[0]], parsed[1]
        raise KeyError(f"no event with id {event_id!r}")

    def _occurrence(self, event_id: str, original_start: datetime | date | None = None) -> tuple[Copy, Meeting, date]:
        copy, day = self._find(event_id)
        m = copy.meeting
        if not m.is_series:
            raise ValueError(f"event {event_id!r} is a single event, not part of a series")
        if day is None:
            if original_start is None:
                raise ValueError("a series master id needs original_start to pick the occurrence")
            day = _original_day(m, original_start)
        if m.instance(day) is None:
            raise KeyError(f"series {copy.id!r} has no live occurrence on {day}")
        return copy, m, day

    def _log(self, meeting: Meeting, day: date | None = None, *also: Copy) -> None:
        self.version += 1
        for held in [c for c in self._copies_of[meeting.key] if not c.deleted] + list(also):
            self.mailbox(held.owner.oid).record(self.version, held.id, day)
            self._announce(held)
        self._fresh.clear()

    def _announce(self, copy: Copy) -> None:
        """Tell on_change (change notifications) what happened to the copy as an item.

        A change to one occurrence is an update of its series master: occurrences are not
        items of /me/events, which is what a subscription watches.
        """
        if self.on_change is None:
            return
        kind = ("deleted" if copy.deleted else
                "created" if copy.id in self._fresh else "updated")
        self.on_change(copy, kind)

    # -- edits ---------------------------------------------------------------
    def create_meeting(self, organizer: str, attendees: list, subject: str,
                       start: datetime, end: datetime, *, time_zone: str | None = None,
                       recurrence: dict | None = None, **fields) -> str:
        """A new meeting; attendees are addresses or {"email","name","type","response"}."""
        owner = self.user_by_email(organizer)
        if owner is None:
            raise KeyError(f"organizer {organizer!r} is not a seeded person")
        start, end = _aware(start), _aware(end)
        if end <= start:
            raise ValueError("end must be after start")
        tz_name = time_zone or owner.time_zone
        local = start.astimezone(cal.zone(tz_name)).replace(tzinfo=None)
        if recurrence is not None:
            _check_recurrence(recurrence)
        people = [self._attendee(a) for a in attendees]
        m = new_meeting(self, owner, people, subject, local, end - start,
                        created=self.clock(), time_zone=tz_name, recurrence=recurrence,
                        kind=fields.pop("kind", "review"), **fields)
        placed = self.add_meeting(m)
        self._log(m)
        return placed[owner.email]

    def add_occurrence(self, series_id: str, start: datetime, end: datetime) -> str:
        """Add an instance on a date the series has none (or restore a cancelled one)."""
        copy, _ = self._find(series_id)
        m = copy.meeting
        start, end = _aware(start), _aware(end)
        if not m.is_series or end <= start:
            raise ValueError("add_occurrence needs a series id and start < end")
        day = start.astimezone(m.tz).date()
        if m.instance(day) is not None:
            raise ValueError(f"series already has an occurrence on {day}; move it instead")
        m.cancelled.discard(day)
        if (start, end) != m.pattern_times(day) or not cal.is_pattern_date(m.recurrence, day):
            m.overrides[day] = Override(start, end, revision=1)
        m.touch(self.clock(), series_wide=False)
        self._log(m, day)
        return ids.occurrence_id(copy.id, day)

    def cancel_occurrence(self, event_id: str,
                          original_start: datetime | date | None = None) -> str:
        """The organizer cancels one occurrence: it leaves every copy's views."""
        copy, m, day = self._occurrence(event_id, original_start)
        m.cancelled.add(day)
        m.overrides.pop(day, None)
        m.touch(self.clock(), series_wide=False)
        self._log(m, day)
        return ids.occurrence_id(copy.id, day)

    def move_occurrence(self, event_id: str, start: datetime, end: datetime,
                        original_start: datetime | date | None = None) -> str:
        """Move an occurrence (it becomes an exception) or a single event."""
        start, end = _aware(start), _aware(end)
        if end <= start:
            raise ValueError("end must be after start")
        copy, day = self._find(event_id)
        if not copy.meeting.is_series:
            m = copy.meeting
            m.start = start.astimezone(m.tz).replace(tzinfo=None)
            m.duration = end - start
            m.touch(self.clock())
            self._log(m)
            return copy.id
        copy, m, day = self._occurrence(event_id, original_start)
        ov = m.override(day, self.clock())
        ov.start, ov.end = start, end
        m.touch(self.clock(), series_wide=False)
        self._log(m, day)
        return ids.occurrence_id(copy.id, day)

    def set_sensitivity(self, event_id: str, sensitivity: str) -> None:
        """On an occurrence id: that occurrence only (an exception); else the meeting."""
        if sensitivity not in SENSITIVITIES:
            raise ValueError(f"sensitivity must be one of {', '.join(SENSITIVITIES)}")
        copy, day = self._find(event_id)
        if day is not None:
            copy, m, day = self._occurrence(event_id)
            m.override(day, self.clock(), sensitivity=sensitivity)
            self._log(m, day)
            return
        copy.meeting.sensitivity = sensitivity
        copy.meeting.touch(self.clock())
        self._log(copy.meeting)

    def set_response(self, event_id: str, response: str) -> None:
        """The copy's owner answers the invitation (the organizer sees it too)."""
        if response not in RESPONSES:
            raise ValueError(f"response must be one of {', '.join(RESPONSES)}")
        copy, _ = self._find(event_id)
        entry = copy.own_entry()
        if entry is None:
            raise ValueError(f"{copy.owner.email} organizes this meeting; organizers do not respond")
        entry.response, entry.responded = response, self.clock()
        copy.meeting.touch(self.clock())
        self._log(copy.meeting)

    def add_attendee(self, event_id: str, email: str, name: str | None = None,
                     type: str = "required") -> str | None:
        """Invite someone; a seeded person gets a copy. Returns their event id, if any."""
        copy, _ = self._find(event_id)
        m = copy.meeting
        person = self._attendee({"email": email, "name": name, "type": type,
                                 "response": "none"})
        if any(a.email == person.email for a in m.people()):
            raise ValueError(f"{email} is already in this meeting")
        m.attendees.append(person)
        m.touch(self.clock())
        user = self.user_by_email(email) if type != "resource" else None
        new = None
        if user is not None and not any(c.owner is user for c in self._copies_of[m.key]):
            new = self._give_copy(m, user).id
        self._log(m)
        return new

    def copy_series(self, event_id: str) -> str:
        """Outlook copy and paste: a new series (new ids) with the same GOID."""
        copy, _ = self._find(event_id)
        old = copy.meeting
        new = clone(self, old, modified=self.clock())
        self.add_meeting(new)
        self._log(new)
        return ids.master_id(copy.owner.oid, new.key)

    def delete_series(self, event_id: str) -> None:
        """Organizer: cancel for everyone (attendees keep a 'Canceled:' copy until
        they remove it).  Attendee: remove only their own copy."""
        copy, _ = self._find(event_id)
        m = copy.meeting
        self._remove(copy)
        if copy.is_organizer:
            m.is_cancelled = True
            m.touch(self.clock())
            self._log(m, None, copy)
        else:
            self.version += 1
            self.mailbox(copy.owner.oid).record(self.version, copy.id)
            self._announce(copy)

    def touch_events(self, mailbox: str, count: int = 1) -> list[str]:
        """Change `count` of the person's items without changing what they mean: each gets a
        new changeKey (on every instance), as when Outlook rewrites an item. For benchmarks of
        change notifications; returns the item ids."""
        owner = self.user_by_email(mailbox)
        if owner is None:
            raise KeyError(f"{mailbox!r} is not a seeded person")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError("count must be a whole number >= 0")
        box = self.mailbox(owner.oid)
        touched = []
        for copy in box.next_to_touch(count):
            copy.revision += 1
            self.version += 1
            box.record(self.version, copy.id)
            self._announce(copy)
            touched.append(copy.id)
        return touched

    # -- helpers -------------------------------------------------------------
    def _remove(self, copy: Copy) -> None:
        box = self.mailbox(copy.owner.oid)
        box.copies.pop(copy.id, None)
        box.removed[copy.id] = copy
        self._copies.pop(copy.id, None)
        copy.deleted = True

    def _attendee(self, spec) -> Attendee:
        spec = {"email": spec} if isinstance(spec, str) else dict(spec)
        email = (spec.get("email") or "").strip().lower()
        if "@" not in email:
            raise ValueError(f"attendee address {spec.get('email')!r} is not an address")
        kind = spec.get("type") or "required"
        response = spec.get("response") or "none"
        if kind not in ATTENDEE_TYPES or response not in RESPONSES:
            raise ValueError(f"bad attendee type {kind!r} or response {response!r}")
        user = self.user_by_email(email)
        name = spec.get("name") or (user.name if user else email)
        responded = None if response in ("none", "notResponded") else self.clock()
        return Attendee(email, name, kind, response, responded)


def _original_day(m: Meeting, original_start: datetime | date | str) -> date:
    """The series-local date an occurrence was planned on.

    A date is taken as that local date; an instant (e.g. the event's originalStart)
    is converted to the series' zone.  A naive midnight is what an ISO date-only
    string becomes on its way through the control API, so it counts as a date.
    """
    if isinstance(original_start, str):
        original_start = datetime.fromisoformat(original_start.replace("Z", "+00:00"))
    if not isinstance(original_start, datetime):
        return original_start
    if original_start.tzinfo is None and original_start.time() == datetime.min.time():
        return original_start.date()
    return _aware(original_start).astimezone(m.tz).date()


def _check_recurrence(rec: dict) -> None:
    try:
        first = next(cal.occurrence_dates(rec, date.min, date.max), None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"recurrence is not a valid patternedRecurrence: {exc}") from exc
    if first is None:
        raise ValueError("recurrence has no occurrences")
