"""How often a series meets, in words (times in a person's zone: listening/core/when.py).

The cadence is derived from the live occurrences the filter found (not from
Outlook's recurrence pattern, which calendarView does not return): the median
gap between consecutive starts, so one cancelled or moved occurrence does not
change the answer.
"""
from __future__ import annotations

from datetime import UTC, datetime
from statistics import median
from typing import Sequence

from listening.core.when import local_time, weekly_slot, zone_of  # noqa: F401 - the page's names

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


def upcoming(starts: Sequence[datetime], now: datetime, count: int) -> list[datetime]:
    """The first ``count`` starts at or after ``now``."""
    now = now.astimezone(UTC)
    return [s for s in sorted(starts) if s >= now][:count]


def meeting_words(starts: Sequence[datetime], now: datetime, zone) -> str | None:
    """Which meeting a series is, in words and nothing else: 'weekly, Tuesdays at 10:00
    (America/New_York)'. Kept with an attached 1-on-1, so it must hold no calendar content."""
    if not starts:
        return None
    soon = upcoming(starts, now, 1) or [max(starts)]
    return f"{cadence_in_words(starts)}, {weekly_slot(soon[0], zone)} ({zone.key})"
