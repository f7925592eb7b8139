"""How often a series meets, in words, and times in a person's own zone.

The cadence is derived from the live occurrences the filter found (not from
Outlook's recurrence pattern, which calendarView does not return): the median
gap between consecutive starts, so one cancelled or moved occurrence does not
change the answer.
"""
from __future__ import annotations

from datetime import UTC, datetime
from statistics import median
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY = 86400.0
# (lowest, highest median gap in days, words); checked in order.
_NAMED = (
    (0.5, 1.5, "daily"),
    (6.0, 8.0, "weekly"),
    (13.0, 15.0, "every 2 weeks"),
    (20.0, 22.0, "every 3 weeks"),
    (26.0, 36.0, "monthly"),
    (55.0, 66.0, "every 2 months"),
    (84.0, 95.0, "every 3 months"),
)


def cadence_in_words(starts: Sequence[datetime]) -> str:
    """'weekly', 'every 2 weeks', 'monthly', ... from the starts of the live occurrences."""
    ordered = sorted(starts)
    if len(ordered) < 2:
        return "only one occurrence in view"
    gaps = [(b - a).total_seconds() / DAY for a, b in zip(ordered, ordered[1:])]
    typical = median(gaps)
    for low, high, words in _NAMED:
        if low <= typical <= high:
            return words
    if 1.5 < typical < 6.0:
        per_week = round(7 / typical)
        return "twice a week" if per_week == 2 else f"{per_week} times a week"
    weeks = typical / 7
    if abs(weeks - round(weeks)) < 0.15:
        return f"every {round(weeks)} weeks"
    return f"about every {round(typical)} days"


def zone_of(name: str | None) -> ZoneInfo:
    """A person's IANA zone; an unknown or empty name reads as UTC rather than failing a page."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 24 Nov 2026, 10:00' in ``zone`` (built by hand: strftime names follow the locale)."""
    local = moment.astimezone(zone)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[local.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
             "Dec")[local.month - 1]
    return f"{day} {local.day} {month} {local.year}, {local:%H:%M}"


def upcoming(starts: Sequence[datetime], now: datetime, count: int) -> list[datetime]:
    """The first ``count`` starts at or after ``now``."""
    now = now.astimezone(UTC)
    return [s for s in sorted(starts) if s >= now][:count]
