"""Build Meeting objects with their GOID, Teams link and HTML body."""
from __future__ import annotations

import copy
import dataclasses
import random
from datetime import datetime, timedelta

from . import bodies, goid, ids
from .meeting import Attendee, Meeting



def new_meeting(world, organizer, attendees: list[Attendee], subject: str,
                start: datetime, duration: timedelta, *, created: datetime,
                time_zone: str | None = None, recurrence: dict | None = None,
                kind: str = "one_on_one", online: bool = True, **fields) -> Meeting:
    """A meeting organized by `organizer` (a world.User); `start` is naive local time."""
    key = world.next_key()
    seed = f"{world.seed}:{key}"
    url = ids.join_url(seed, organizer.tenant_id, organizer.oid) if online else None
    body, preview = bodies.meeting_body(kind, subject, organizer.name, random.Random(seed),
                                        url or "", organizer.tenant_id, organizer.oid, online)
    return Meeting(
        key=key, goid=goid.build(created, goid.data_for(seed)), subject=subject,
        organizer=Attendee(organizer.email, organizer.name, response="organizer"),
        attendees=attendees, time_zone=time_zone or organizer.time_zone, start=start,
        duration=duration, created=created, body=body, preview=preview,
        recurrence=recurrence, join_url=url, **fields)


def attendee(user, response: str = "accepted", responded: datetime | None = None,
             type: str = "required", address: str | None = None) -> Attendee:
    """An attendee entry for a world.User (address: e.g. one of their aliases)."""
    when = responded if response not in ("none", "notResponded") else None
    return Attendee(address or user.email, user.name, type, response, when)


def room(email: str, name: str) -> Attendee:
    # Rooms answer automatically, and Graph lists them as `resource` attendees.
    return Attendee(email, name, "resource", "accepted", None)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def clone(world, meeting: Meeting, **changes) -> Meeting:
    """A copy-and-paste of `meeting`: a new item (new ids) with the same GOID."""
    fields = dict(key=world.next_key(), organizer=dataclasses.replace(meeting.organizer),
                  attendees=[dataclasses.replace(a) for a in meeting.attendees],
                  recurrence=copy.deepcopy(meeting.recurrence),
                  categories=list(meeting.categories), cancelled=set(), overrides={},
                  revision=0, is_cancelled=False)
    fields.update(changes)
    return dataclasses.replace(meeting, **fields)
