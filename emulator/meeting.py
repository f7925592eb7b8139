"""One meeting as the organizer created it, shared by every participant's copy.

A Meeting is either a single event or a series (with `recurrence`).  Instances
of a series are computed on demand for a window; only the deviations are stored:
cancelled dates and overrides (moved occurrences, per-occurrence changes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import NamedTuple

from . import calendar as cal


@dataclass
class Attendee:
    email: str
    name: str
    type: str = "required"            # required | optional | resource
    response: str = "none"            # Graph responseType
    responded: datetime | None = None
    listed: bool = True               # False: holds a copy through a group, not named


@dataclass
class Override:
    """An occurrence that differs from its series: that makes it an `exception`."""
    start: datetime                   # aware UTC
    end: datetime
    fields: dict = field(default_factory=dict)   # e.g. {"sensitivity": "private"}
    revision: int = 0


class Instance(NamedTuple):
    original: date | None             # None for a single event or the master itself
    start: datetime                   # aware UTC
    end: datetime
    override: Override | None


@dataclass(eq=False)
class Meeting:
    key: int                          # world-unique; the item counter inside ids
    goid: bytes                       # series-level Global Object ID (date bytes zero)
    subject: str
    organizer: Attendee
    attendees: list[Attendee]
    time_zone: str                    # Windows name, the organizer's zone
    start: datetime                   # naive local wall-clock start of the first instance
    duration: timedelta
    created: datetime
    body: str
    preview: str
    recurrence: dict | None = None
    join_url: str | None = None
    is_all_day: bool = False
    sensitivity: str = "normal"
    show_as: str = "busy"
    importance: str = "normal"
    categories: list[str] = field(default_factory=list)
    modified: datetime | None = None
    revision: int = 0
    is_cancelled: bool = False        # the organizer cancelled the whole meeting
    cancelled: set[date] = field(default_factory=set)
    overrides: dict[date, Override] = field(default_factory=dict)

    @cached_property
    def tz(self):
        # All-day events float: Graph reports them midnight to midnight in whatever
        # zone is asked for, so they are kept as UTC wall-clock dates here.
        return timezone.utc if self.is_all_day else cal.zone(self.time_zone)

    @property
    def is_series(self) -> bool:
        return self.recurrence is not None

    def people(self) -> list[Attendee]:
        """Organizer first, then every attendee (rooms and unlisted holders too)."""
        return [self.organizer, *self.attendees]

    def touch(self, when: datetime, series_wide: bool = True) -> None:
        """Record a change; series-wide ones give every instance a new changeKey."""
        if series_wide:
            self.revision += 1
        self.modified = when
        self.__dict__.pop("span", None)   # overrides or the range may have moved

    def pattern_times(self, day: date) -> tuple[datetime, datetime]:
        # The start is local wall-clock time (so DST is right); the length is absolute.
        start = cal.to_utc(datetime.combine(day, self.start.time()), self.tz)
        return start, start + self.duration

    def instance(self, day: date) -> Instance | None:
        """The live instance originally on `day`, or None."""
        if day in self.cancelled or not self.is_series:
            return None
        if day in self.overrides:
            ov = self.overrides[day]
            return Instance(day, ov.start, ov.end, ov)
        if not cal.is_pattern_date(self.recurrence, day):
            return None
        return Instance(day, *self.pattern_times(day), None)

    def single(self) -> Instance:
        return Instance(None, *self.pattern_times(self.start.date()), None)

    @cached_property
    def span(self) -> tuple[datetime, datetime | None]:
        """First start and last end (None: never ends), to skip series cheaply."""
        if not self.is_series:
            one = self.single()
            return one.start, one.end
        first = self.pattern_times(self.start.date())[0]
        last = cal.last_date(self.recurrence)
        end = self.pattern_times(last)[1] + timedelta(days=1) if last else None
        for ov in list(self.overrides.values()):
            first = min(first, ov.start)
            end = end and max(end, ov.end)
        return first, end

    def instances(self, start: datetime, end: datetime) -> list[Instance]:
        """Live occurrences and exceptions overlapping [start, end), by start."""
        first, last = self.span
        if first >= end or (last is not None and last <= start):
            return []
        if not self.is_series:
            one = self.single()
            return [one] if one.start < end and one.end > start else []
        lo = (start - self.duration).astimezone(self.tz).date() - timedelta(days=1)
        hi = end.astimezone(self.tz).date() + timedelta(days=1)
        found = []
        for day in cal.occurrence_dates(self.recurrence, lo, hi):
            if day in self.cancelled or day in self.overrides:
                continue
            s, e = self.pattern_times(day)
            if s < end and e > start:
                found.append(Instance(day, s, e, None))
        for day, ov in list(self.overrides.items()):   # moved ones may come from anywhere
            if day not in self.cancelled and ov.start < end and ov.end > start:
                found.append(Instance(day, ov.start, ov.end, ov))
        found.sort(key=lambda i: i.start)
        return found

    def override(self, day: date, when: datetime, **fields) -> Override:
        """Turn the occurrence of `day` into an exception (or update it)."""
        ov = self.overrides.get(day)
        if ov is None:
            ov = self.overrides[day] = Override(*self.pattern_times(day))
        ov.fields.update(fields)
        ov.revision += 1
        self.touch(when, series_wide=False)
        return ov

    def count_instances(self, start: datetime, end: datetime) -> int:
        """len(instances(start, end)), without converting every date (scale seed)."""
        if not self.is_series or self.overrides or self.duration >= timedelta(days=1):
            return len(self.instances(start, end))
        # Dates two days inside the window overlap it whatever the zone offset.
        safe_lo, safe_hi = (start + timedelta(days=2)).date(), (end - timedelta(days=2)).date()
        lo, hi = (start - timedelta(days=2)).date(), (end + timedelta(days=2)).date()
        count = 0
        for day in cal.occurrence_dates(self.recurrence, lo, hi):
            if day in self.cancelled:
                continue
            if safe_lo <= day <= safe_hi:
                count += 1
            else:
                s, e = self.pattern_times(day)
                count += s < end and e > start
        return count

    def first_instance(self) -> Instance | None:
        """The master's own start/end: its first pattern occurrence."""
        day = next(cal.occurrence_dates(self.recurrence, date.min, date.max), None)
        return None if day is None else Instance(None, *self.pattern_times(day), None)


@dataclass(eq=False)
class Copy:
    """One mailbox's copy of a meeting; its `id` is the master's (or single's) id."""
    meeting: Meeting
    owner: object                     # world.User
    id: str
    revision: int = 0                 # copy-only changes, e.g. the owner's response
    deleted: bool = False
    cache: dict = field(default_factory=dict, repr=False)   # see events._static

    def owns(self, address: str) -> bool:
        """True when `address` is the owner's primary address or an alias."""
        address = address.lower()
        return address == self.owner.email or address in self.owner.aliases

    @property
    def is_organizer(self) -> bool:
        return self.owns(self.meeting.organizer.email)

    def own_entry(self) -> Attendee | None:
        return next((a for a in self.meeting.attendees if self.owns(a.email)), None)
