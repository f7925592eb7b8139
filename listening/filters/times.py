"""Reading ``now`` and ``start`` into instants (spec "Inputs" and "Reading events").

Instants are whole seconds since 1970-01-01T00:00:00Z (ints): fractions of a
second are ignored by the spec, and ints compare fast for a 5,000-event mailbox.

Zones: ``UTC``; a tz-database name (links included), read from the ``tzdata``
package so that results do not depend on the machine's own zone files; or a
Windows zone name, mapped by CLDR's windowsZones table, territory ``001``, as
the ``tzlocal`` package ships it (``tzlocal.windows_tz.win_tz``, generated from
CLDR's windowsZones.xml by tzlocal's update_windows_mappings.py keeping only
territory 001). Names are matched exactly; a missing or unknown zone is UTC.
"""
from __future__ import annotations

import importlib.resources
import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tzlocal.windows_tz import win_tz as WINDOWS_ZONES

from .model import FilterInputError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_WALL = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)
# Instants a start may take: those that print as YYYY-MM-DDTHH:MM:SSZ.
MIN_INSTANT = (datetime(1, 1, 1, tzinfo=timezone.utc) - EPOCH) // _SECOND
MAX_INSTANT = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc) - EPOCH) // _SECOND

# [0-9], not \d: \d also matches other scripts' digits, which the spec's form excludes.
_LOCAL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
_LOCAL_RE = re.compile(_LOCAL)
_NOW_RE = re.compile(_LOCAL + r"(?:(Z)|([+-])([0-9]{2})(?::?([0-9]{2}))?)")

TZ_NAMES = frozenset(
    importlib.resources.files("tzdata").joinpath("zones").read_text("utf-8").split())


def parse_now(text: Any) -> datetime:
    """``now`` as an aware datetime: date and time with ``Z`` or an offset
    (``+01:00``, ``+0100`` or ``+01``); a fraction of a second is dropped."""
    match = _NOW_RE.fullmatch(text) if isinstance(text, str) else None
    local = _wall_clock(text[:19]) if match else None
    if local is None:
        raise FilterInputError("now is not a readable instant (ISO 8601 with Z or an offset)")
    zulu, sign, hours, minutes = match.groups()
    hours, minutes = (0, 0) if zulu else (int(hours), int(minutes or 0))
    if hours > 23 or minutes > 59:
        raise FilterInputError("now has an offset out of range")
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
    return local.replace(tzinfo=timezone(offset))


def instant_of(moment: datetime) -> int:
    """An aware datetime as an instant (for in-process callers); its fraction is ignored."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise FilterInputError("now must be a datetime with a time zone")
    return (moment.replace(microsecond=0) - EPOCH) // _SECOND


def to_datetime(instant: int) -> datetime:
    return EPOCH + timedelta(seconds=instant)


def read_start(start: Any) -> int | None:
    """The instant of a Graph ``start`` ({dateTime, timeZone}), or None when unreadable.

    A local time in a daylight-saving gap or overlap takes the offset in force
    before the change: that is zoneinfo's ``fold=0`` in both cases (PEP 495)."""
    if not isinstance(start, dict):
        return None
    text = start.get("dateTime")
    match = _LOCAL_RE.fullmatch(text) if isinstance(text, str) else None
    local = _wall_clock(text[:19]) if match else None
    if local is None:
        return None
    instant = (local - _EPOCH_WALL) // _SECOND
    zone = zone_named(start.get("timeZone"))
    if zone is not None:
        instant -= local.replace(tzinfo=zone).utcoffset() // _SECOND  # fold=0
    # Outside years 1-9999 UTC a start cannot be printed as next_start: unreadable.
    return instant if MIN_INSTANT <= instant <= MAX_INSTANT else None


def zone_named(name: Any) -> tzinfo | None:
    """The zone for a ``timeZone`` value; None means UTC (also for unknown names)."""
    if not isinstance(name, str) or name == "UTC":
        return None
    return _zone_cached(name)


@lru_cache(maxsize=1024)  # bounded: names come from event data
def _zone_cached(name: str) -> tzinfo | None:
    if name in TZ_NAMES:
        return _load_zone(name)
    iana = WINDOWS_ZONES.get(name)
    return _load_zone(iana) if iana in TZ_NAMES else None


@lru_cache(maxsize=None)  # at most the ~600 tz-database names
def _load_zone(key: str) -> tzinfo:
    resource = importlib.resources.files("tzdata.zoneinfo").joinpath(*key.split("/"))
    with resource.open("rb") as data:
        return ZoneInfo.from_file(data, key=key)


def _wall_clock(text: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SS`` (already matched) as a naive datetime; None when
    no such date or time exists (30 February, hour 24, second 60)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
