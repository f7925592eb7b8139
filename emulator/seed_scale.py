"""The `scale` seed: `people` mailboxes, each holding exactly `events` events in
the default window (seeds.window: anchor - 30 days to anchor + 120 days).

People come in teams of nine: a lead (person 0, 9, 18, ...) and up to eight
reports.  Each lead holds a weekly 1-on-1 with every report (valid candidates)
while both budgets allow; every mailbox is then topped up with weekly series
organized by its owner with outside guests (no mailbox, so no one else's count
moves), and about a tenth singles.  view(*window(anchor)) therefore returns
exactly `events` items for every mailbox.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone

from . import calendar as cal
from .factory import attendee, minutes, new_meeting
from .meeting import Attendee
from .seed_demo import CONTOSO
from .seeds import oid_for, window
from .world import User, World

_FIRST = ["Avery", "Jordan", "Riley", "Casey", "Morgan", "Quinn", "Harper", "Rowan",
          "Skyler", "Emerson", "Reese", "Finley", "Dakota", "Sage", "Parker", "Hayden"]
_LAST = ["Hall", "Young", "King", "Wright", "Lopez", "Hill", "Scott", "Green", "Baker",
         "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner", "Phillips"]
_ZONES = ["Pacific Standard Time", "Eastern Standard Time", "GMT Standard Time",
          "W. Europe Standard Time", "India Standard Time"]
TEAM = 9


def build_scale(anchor: date, people: int = 10, events: int = 500) -> World:
    if people < 1 or events < 0:
        raise ValueError("scale needs people >= 1 and events >= 0")
    world = World("scale", anchor)
    world.add_tenant(CONTOSO)
    users = [_person(world, i) for i in range(people)]
    budget = {u.oid: events for u in users}
    rnd = random.Random(f"scale:{anchor}:{people}:{events}")
    start, end = window(anchor)
    for i, user in enumerate(users):
        if i % TEAM:
            _one_on_one(world, users[i - i % TEAM], user, budget, start, end, i)
    for i, user in enumerate(users):
        _fill(world, user, budget, start, end, rnd)
    return world


def _person(world: World, i: int) -> User:
    first, last = _FIRST[i % 16], _LAST[i // 16 % 16]
    email = _email(i)
    lead = i - i % TEAM if i % TEAM else (0 if i else None)
    manager = oid_for(CONTOSO.domain, _email(lead)) if lead is not None else None
    title = "Engineering Manager" if i % TEAM == 0 else "Software Engineer"
    return world.add_user(User(oid_for(CONTOSO.domain, email), CONTOSO.id, email,
                               f"{first} {last}", [], title, "Engineering", manager,
                               _ZONES[i % len(_ZONES)]))


def _email(i: int) -> str:
    return f"{_FIRST[i % 16]}.{_LAST[i // 16 % 16]}.{i:05d}@{CONTOSO.domain}".lower()


def _weekly(world, organizer, guests, subject, first: date, at: time, length, kind):
    rec = cal.recurrence("weekly", first, days=(cal.DAYS[first.weekday()],),
                         time_zone=organizer.time_zone)
    created = datetime.combine(first - timedelta(days=7), time(9), timezone.utc)
    return new_meeting(world, organizer, guests, subject, datetime.combine(first, at),
                       minutes(length), created=created, recurrence=rec, kind=kind)


def _one_on_one(world, lead, report, budget, start, end, i) -> None:
    first = start.date() - timedelta(days=7 + i % 5)
    m = _weekly(world, lead, [attendee(report, "accepted", start)],
                f"{lead.name.split()[0]} / {report.name.split()[0]} 1:1", first,
                time(9 + i % 8, 30), 30, "one_on_one")
    count = m.count_instances(start, end)
    if budget[lead.oid] >= count and budget[report.oid] >= count:
        world.add_meeting(m)
        budget[lead.oid] -= count
        budget[report.oid] -= count


def _fill(world, user, budget, start, end, rnd) -> None:
    """Weekly series with outside guests, then singles for the last tenth or so."""
    singles = min(budget[user.oid], max(1, budget[user.oid] // 10))
    n = 0
    while budget[user.oid] - singles >= 22:
        n += 1
        guest = Attendee(f"guest{n}.{user.oid[:8]}@northwindtraders.com", f"Guest {n}",
                         "required", "accepted", start)
        first = start.date() - timedelta(days=1 + rnd.randrange(7))
        m = _weekly(world, user, [guest], f"Customer sync #{n}", first,
                    time(7 + rnd.randrange(11), rnd.choice((0, 15, 30, 45))), 30, "review")
        world.add_meeting(m)
        budget[user.oid] -= m.count_instances(start, end)
    span_hours = int((end - start).total_seconds() // 3600) - 48
    for k in range(budget[user.oid]):
        at = start + timedelta(hours=24 + rnd.randrange(span_hours))
        local = at.astimezone(cal.zone(user.time_zone)).replace(tzinfo=None, minute=0)
        m = new_meeting(world, user, [], f"Working session {k + 1}", local, minutes(60),
                        created=start, kind="review", online=False)
        world.add_meeting(m)
    budget[user.oid] = 0
