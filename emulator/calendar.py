"""Time zones and recurrence expansion (pure; no world state).

A series is expanded on its own local calendar, in its own zone, and only then
converted to UTC, so a 10:00 meeting stays at 10:00 local across DST changes.
Pattern and range fields are Graph's patternedRecurrence (docs/microsoft-graph.md §3).
"""
from __future__ import annotations

import calendar as _stdcal
from datetime import date, datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

# CLDR windowsZones, territory 001, for the zones the seeds use.
WINDOWS_TO_IANA = {
    "UTC": "UTC",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "India Standard Time": "Asia/Kolkata",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. South America Standard Time": "America/Sao_Paulo",
}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEXES = ["first", "second", "third", "fourth", "last"]
NO_END = date(1, 1, 1)  # Graph's endDate when a range has no end


def zone(name: str) -> ZoneInfo:
    """ZoneInfo for a Windows zone name (or an IANA name); KeyError if unknown."""
    iana = WINDOWS_TO_IANA.get(name, name)
    try:
        return ZoneInfo(iana)
    except (ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError already
        raise KeyError(f"unknown time zone {name!r}") from exc


def utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is read as UTC, as Graph reads one (docs/microsoft-graph.md §1)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive local wall-clock time in tz, as aware UTC (gaps: offset before)."""
    return local.replace(tzinfo=tz).astimezone(timezone.utc)


def recurrence(kind: str, start: date, *, interval: int = 1, days: tuple[str, ...] = (),
               day_of_month: int = 0, index: str = "first", month: int = 0,
               first_day: str = "sunday", end: date | None = None, count: int = 0,
               time_zone: str = "UTC") -> dict:
    """A complete Graph patternedRecurrence (unused integers are 0, as Graph sends)."""
    range_type = "numbered" if count else ("endDate" if end else "noEnd")
    return {
        "pattern": {"type": kind, "interval": interval, "month": month,
                    "dayOfMonth": day_of_month, "daysOfWeek": list(days),
                    "firstDayOfWeek": first_day, "index": index},
        "range": {"type": range_type, "startDate": start.isoformat(),
                  "endDate": (end or NO_END).isoformat(), "recurrenceTimeZone": time_zone,
                  "numberOfOccurrences": count},
    }


def _months(start: date, d0: date, interval: int) -> Iterator[tuple[int, int]]:
    """(year, month) every `interval` months from start's month, from d0's month on."""
    base = start.year * 12 + start.month - 1
    first = max(0, (d0.year * 12 + d0.month - 1 - base) // interval * interval)
    while True:
        year, month0 = divmod(base + first, 12)
        yield year, month0 + 1
        first += interval


def _nth_day(year: int, month: int, days: set[int], index: str) -> date | None:
    last = _stdcal.monthrange(year, month)[1]
    hits = [d for d in range(1, last + 1) if date(year, month, d).weekday() in days]
    if not hits:
        return None
    pos = -1 if index == "last" else INDEXES.index(index)
    return date(year, month, hits[pos]) if pos < len(hits) else None


def _clamped(year: int, month: int, day: int) -> date:
    # Outlook puts "day 31" on the last day of shorter months.
    return date(year, month, min(day, _stdcal.monthrange(year, month)[1]))


def _pattern_dates(pattern: dict, start: date, d0: date) -> Iterator[date]:
    """Pattern dates >= max(start, d0), ascending, unbounded."""
    kind, interval = pattern["type"], max(1, pattern.get("interval") or 1)
    days = {DAYS.index(d) for d in pattern.get("daysOfWeek") or []}
    d0 = max(start, d0)
    if kind == "daily":
        skip = -(-(d0 - start).days // interval) * interval
        current = start + timedelta(days=skip)
        while True:
            yield current
            current += timedelta(days=interval)
    elif kind == "weekly":
        first_day = DAYS.index(pattern.get("firstDayOfWeek") or "sunday")
        week0 = start - timedelta(days=(start.weekday() - first_day) % 7)
        week = week0 + timedelta(weeks=(d0 - week0).days // 7 // interval * interval)
        offsets = sorted((d - first_day) % 7 for d in days)
        while True:
            for offset in offsets:
                day = week + timedelta(days=offset)
                if day >= d0:
                    yield day
            week += timedelta(weeks=interval)
    elif kind in ("absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"):
        yearly = kind.endswith("Yearly")
        months = _months(start, d0, interval * 12 if yearly else interval)
        for year, month in months:
            if yearly:
                month = pattern.get("month") or start.month
            if kind.startswith("absolute"):
                day = _clamped(year, month, pattern.get("dayOfMonth") or start.day)
            else:
                day = _nth_day(year, month, days, pattern.get("index") or "first")
            if day is not None and day >= d0:
                yield day
    else:
        raise ValueError(f"unsupported recurrence pattern type {kind!r}")


def occurrence_dates(rec: dict, first: date, last: date) -> Iterator[date]:
    """The series' local dates within [first, last], honouring the range."""
    rng = rec["range"]
    start = date.fromisoformat(rng["startDate"])
    if rng["type"] == "numbered":
        # Counting starts at the series start, so it cannot jump ahead to `first`.
        remaining = rng.get("numberOfOccurrences") or 0
        for day in _pattern_dates(rec["pattern"], start, start):
            if remaining <= 0 or day > last:
                return
            remaining -= 1
            if day >= first:
                yield day
        return
    end = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else date.max
    for day in _pattern_dates(rec["pattern"], start, first):
        if day > last or day > end:
            return
        yield day


def last_date(rec: dict) -> date | None:
    """The last pattern date, or None when the series never ends."""
    rng = rec["range"]
    if rng["type"] == "endDate":
        return date.fromisoformat(rng["endDate"])
    if rng["type"] == "numbered":
        found = None
        for found in occurrence_dates(rec, date.min, date.max):
            pass
        return found
    return None


def is_pattern_date(rec: dict, day: date) -> bool:
    return next(occurrence_dates(rec, day, day), None) == day
