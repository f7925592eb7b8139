"""Deterministic worlds: `demo` (a believable company) and `scale` (benchmarks).

Everything depends only on the seed name, the anchor date and the options, so a
test, the demo and a benchmark built on the same day see the same calendars.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

from . import calendar as cal
from .factory import attendee, minutes, new_meeting
from .meeting import Attendee, Meeting
from .world import Tenant, User, World

_OID_NAMESPACE = uuid.UUID("5b0f3c8e-2d1a-4c6b-9e7f-0a1b2c3d4e5f")
DEFAULT_WINDOW = (timedelta(days=-30), timedelta(days=120))   # around the anchor


def build_world(seed: str, anchor: date | None = None, **opts) -> World:
    """Build the named seed; `anchor` defaults to the Monday of the current week.

    opts: `clock` (any seed: the time edits stamp), `people` and `events` (scale).
    """
    if anchor is None:
        today = datetime.now(timezone.utc).date()
        anchor = today - timedelta(days=today.weekday())
    clock = opts.pop("clock", None)    # a callable returning aware UTC "now" for edits
    if seed == "demo":
        from .seed_demo import build_demo
        world = build_demo(anchor, **opts)
    elif seed == "scale":
        from .seed_scale import build_scale
        world = build_scale(anchor, **opts)
    else:
        raise ValueError(f"unknown seed {seed!r}; choose demo or scale")
    if clock is not None:
        world.clock = clock
    return world


def window(anchor: date) -> tuple[datetime, datetime]:
    """The default calendarView window: 30 days back to 120 days ahead of the anchor."""
    midnight = datetime.combine(anchor, time(), timezone.utc)
    return midnight + DEFAULT_WINDOW[0], midnight + DEFAULT_WINDOW[1]


def oid_for(domain: str, email: str) -> str:
    """A stable object id: the same person keeps the same oid on every build."""
    return str(uuid.uuid5(_OID_NAMESPACE, f"{domain}/{email}"))


class Seeder:
    """Small helpers that keep the seed tables readable."""

    def __init__(self, world: World):
        self.world = world
        self.anchor = world.anchor
        self.people: dict[str, User] = {}

    def person(self, key: str, tenant: Tenant, name: str, title: str, dept: str,
               manager: str | None, tz: str, aliases: tuple[str, ...] = ()) -> User:
        email = name.lower().replace(" ", ".") + "@" + tenant.domain
        user = User(oid_for(tenant.domain, email), tenant.id, email, name,
                    [a if "@" in a else f"{a}@{tenant.domain}" for a in aliases],
                    title, dept, self.people[manager].oid if manager else None, tz)
        self.people[key] = self.world.add_user(user)
        return user

    def weeks(self, weeks_ago: int, weekday: int) -> date:
        """The date of `weekday` (0 = Monday) in the week `weeks_ago` before the anchor."""
        return self.anchor - timedelta(weeks=weeks_ago) + timedelta(days=weekday)

    def nth_weekday(self, months_ago: int, weekday: int, index: str) -> date:
        month0 = self.anchor.year * 12 + self.anchor.month - 1 - months_ago
        return cal._nth_day(month0 // 12, month0 % 12 + 1, {weekday}, index)

    def month_day(self, months_ago: int, day: int) -> date:
        month0 = self.anchor.year * 12 + self.anchor.month - 1 - months_ago
        return cal._clamped(month0 // 12, month0 % 12 + 1, day)

    def drop_copy(self, meeting: Meeting, key: str) -> None:
        """Remove one person's copy (e.g. the organizer's, after cancelling)."""
        held = self.world.mailbox(self.people[key].oid).copies
        self.world._remove(next(c for c in held.values() if c.meeting is meeting))

    def invite(self, key: str, response: str = "accepted", **kw) -> Attendee:
        return attendee(self.people[key], response, **kw)

    def meet(self, organizer: str, invitees: list[Attendee], subject: str, first: date,
             at: str, length: int = 30, rec: dict | None = None, tz: str | None = None,
             **fields) -> Meeting:
        """Add a meeting; `rec` = {"type", "interval", "index", "end", "count"}."""
        org = self.people[organizer]
        tz = tz or org.time_zone
        hour, minute = map(int, at.split(":"))
        created = datetime.combine(first - timedelta(days=9), time(8, 17 + len(subject) % 40),
                                   timezone.utc)
        for person in invitees:
            if person.response not in ("none", "notResponded") and person.responded is None:
                person.responded = created + timedelta(hours=2, minutes=len(person.name))
        if fields.get("is_all_day"):
            fields.setdefault("online", False)
        m = new_meeting(self.world, org, invitees, subject,
                        datetime.combine(first, time(hour, minute)), minutes(length),
                        created=created, time_zone=tz,
                        recurrence=self._recurrence(rec, first, tz), **fields)
        self.world.add_meeting(m)
        return m

    @staticmethod
    def _recurrence(rec: dict | None, first: date, tz: str) -> dict | None:
        if rec is None:
            return None
        kind = rec.get("type", "weekly")
        days = rec.get("days") or (cal.DAYS[first.weekday()],)
        return cal.recurrence(
            kind, first, interval=rec.get("interval", 1),
            days=() if kind in ("daily", "absoluteMonthly") else tuple(days),
            day_of_month=first.day if kind == "absoluteMonthly" else 0,
            index=rec.get("index", "first"), end=rec.get("end"), count=rec.get("count", 0),
            time_zone=tz)
