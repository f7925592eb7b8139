"""Moments as a person reads them: in their own zone, and relative to now.

Pure functions (``now`` is an argument), used by every page that shows a time, so
that no page shows UTC to someone who lives elsewhere. Names of days and months
are written out here rather than taken from strftime, which follows the locale.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MINUTE, HOUR, DAY = 60, 3600, 86400


def zone_of(name: str | None) -> ZoneInfo:
    """A person's IANA zone; an unknown or empty name reads as UTC rather than failing a page."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    """'Tue 24 Nov 2026, 10:00' in ``zone``."""
    local = moment.astimezone(zone)
    return f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def local_date(moment: datetime, zone: ZoneInfo) -> str:
    """'24 Nov 2026' in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def relative(moment: datetime, now: datetime) -> str:
    """'just now', '3 minutes ago', 'in 52 minutes', 'in 2 hours', '5 days ago'."""
    seconds = (moment.astimezone(UTC) - now.astimezone(UTC)).total_seconds()
    ahead, span = seconds > 0, abs(seconds)
    if span < 45:
        return "in a few seconds" if ahead else "just now"
    if span < 90 * MINUTE:
        words = _count(max(1, round(span / MINUTE)), "minute")
    elif span < 36 * HOUR:
        words = _count(round(span / HOUR), "hour")
    else:
        words = _count(round(span / DAY), "day")
    return f"in {words}" if ahead else f"{words} ago"


@dataclass(frozen=True)
class Moment:
    """What a page shows for one moment: the local time, how far from now, and the exact instant."""
    local: str       # 'Tue 24 Nov 2026, 10:00'
    relative: str    # 'in 52 minutes'
    iso: str         # for <time datetime="..."> (UTC)

    def __str__(self) -> str:
        return f"{self.local} ({self.relative})"


def moment(value: datetime | None, zone: ZoneInfo, now: datetime) -> Moment | None:
    if value is None:
        return None
    return Moment(local_time(value, zone), relative(value, now),
                  value.astimezone(UTC).isoformat(timespec="seconds"))


def weekly_slot(moment_: datetime, zone: ZoneInfo) -> str:
    """'Tuesdays at 10:00' in ``zone``."""
    local = moment_.astimezone(zone)
    return f"{WEEKDAYS[local.weekday()]}s at {local:%H:%M}"
