"""The emulated directory and mailboxes: tenants, people, and their calendars.

Pure data, no HTTP.  A meeting exists once (emulator.meeting.Meeting); every
participant with a mailbox holds a Copy of it under their own event id, which is
what Graph shows: per-mailbox ids, one shared iCalUId.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable

from . import events, ids
from .calendar import utc
from .edits import Edits
from .meeting import Copy, Meeting


@dataclass
class Tenant:
    id: str
    name: str
    domain: str
    requires_admin_consent: bool = False


@dataclass
class User:
    oid: str
    tenant_id: str
    email: str                        # primary, lower-case
    name: str
    aliases: list[str] = field(default_factory=list)
    job_title: str = ""
    department: str = ""
    manager_oid: str | None = None
    time_zone: str = "UTC"            # Windows zone name


def _sort_key(event: dict) -> tuple[str, str]:
    return event["start"]["dateTime"], event["id"]


class Mailbox:
    """One person's calendar: their own copy of every meeting they hold."""

    def __init__(self, owner: User):
        self.owner = owner
        self.calendar_id = ids.calendar_id(owner.oid)
        self.copies: dict[str, Copy] = {}      # live, by master or single id
        self.removed: dict[str, Copy] = {}     # deleted copies, kept for delta
        self.version = 0
        self._log: list[tuple[int, str, date | None]] = []
        self._view_cache: tuple[tuple | None, list[dict]] = (None, [])
        self._touch_cursor = 0

    def view(self, start: datetime, end: datetime) -> list[dict]:
        """calendarView: occurrences, exceptions and singles overlapping [start, end).

        The last window is cached until the next edit of this mailbox, because a
        client pages through one window with many requests (20 pages of 1,000).
        """
        start, end = utc(start), utc(end)
        key = (start, end, self.version)
        if self._view_cache[0] != key:
            # list(): an edit on another thread may add a copy while we iterate.
            found = [events.render(copy, inst)
                     for copy in list(self.copies.values())
                     for inst in copy.meeting.instances(start, end)]
            found.sort(key=_sort_key)
            self._view_cache = (key, found)
        return [dict(event) for event in self._view_cache[1]]

    def get(self, event_id: str) -> dict | None:
        """Any event of this mailbox by id, series masters included."""
        located = self._locate(event_id)
        return None if located is None else events.render(*located)

    def instances(self, master_id: str, start: datetime, end: datetime) -> list[dict]:
        """A series' live occurrences and exceptions in the window (KeyError: no such event)."""
        copy = self.copies.get(master_id)
        if copy is None:
            raise KeyError(f"no event {master_id!r} in {self.owner.email}'s mailbox")
        found = [events.render(copy, i)
                 for i in copy.meeting.instances(utc(start), utc(end)) if i.original]
        found.sort(key=_sort_key)
        return found

    def cancelled_occurrences(self, master_id: str) -> list[str]:
        """The master's `cancelledOccurrences` (Graph returns it only on $select)."""
        copy = self.copies.get(master_id)
        if copy is None:
            raise KeyError(f"no event {master_id!r} in {self.owner.email}'s mailbox")
        return [ids.occurrence_marker(master_id, d) for d in sorted(copy.meeting.cancelled)]

    def changes_since(self, version: int, start: datetime | None = None,
                      end: datetime | None = None) -> tuple[list[str], list[str], int]:
        """Ids changed and removed after `version`, and the current version.

        Without a window the ids are items (masters, singles, touched instances).
        With one they are what calendarView delta reports: instances in the window
        that changed, and as removed every touched instance no longer in it.
        """
        changed: dict[str, None] = {}
        removed: dict[str, None] = {}
        for _, copy_id, day in (e for e in self._log if e[0] > version):
            for eid, live in self._touched(copy_id, day, start, end):
                (changed if live else removed)[eid] = None
                (removed if live else changed).pop(eid, None)
        return list(changed), list(removed), self.version

    def items_touched_since(self, version: int) -> list[str]:
        """Ids of single events and occurrences logged after `version`.

        Series-wide entries are left out: their instances are whatever the window holds.
        Delta uses this to report changes outside its window (docs/microsoft-graph.md §2).
        """
        found: dict[str, None] = {}
        for _, copy_id, day in self._log[bisect_right(self._log, version, key=lambda e: e[0]):]:
            if day is not None:
                found[ids.occurrence_id(copy_id, day)] = None
                continue
            copy = self.copies.get(copy_id) or self.removed.get(copy_id)
            if copy is not None and not copy.meeting.is_series:
                found[copy_id] = None
        return list(found)

    def next_to_touch(self, count: int) -> list[Copy]:
        """`count` live copies, taking turns, so repeated bulk touches spread over the mailbox."""
        live = list(self.copies.values())
        if not live:
            return []
        start = self._touch_cursor % len(live)
        picked = [live[(start + i) % len(live)] for i in range(min(count, len(live)))]
        self._touch_cursor = start + len(picked)
        return picked

    def _touched(self, copy_id: str, day: date | None, start, end):
        eid = copy_id if day is None else ids.occurrence_id(copy_id, day)
        if start is None or end is None:
            yield eid, self.get(eid) is not None
            return
        start, end = utc(start), utc(end)
        copy = self.copies.get(copy_id) or self.removed.get(copy_id)
        if day is not None or copy is None or not copy.meeting.is_series:
            located = self._locate(eid)
            inst = located[1] if located else None
            yield eid, bool(located) and _overlaps(located[0], inst, start, end)
            return
        for inst in copy.meeting.instances(start, end):
            yield events.event_id(copy, inst), not copy.deleted

    def _locate(self, event_id: str):
        """(copy, instance or None for a master/single) for a live event id."""
        if event_id in self.copies:
            return self.copies[event_id], None
        parsed = ids.parse_occurrence_id(event_id)
        if parsed is None or parsed[0] not in self.copies:
            return None
        copy = self.copies[parsed[0]]
        inst = copy.meeting.instance(parsed[1])
        return None if inst is None else (copy, inst)

    def record(self, version: int, copy_id: str, day: date | None = None) -> None:
        self._log.append((version, copy_id, day))
        self.version = version


def _overlaps(copy: Copy, inst, start: datetime, end: datetime) -> bool:
    if inst is None:
        if copy.meeting.is_series:
            return False          # calendarView never holds a series master
        inst = copy.meeting.single()
    return inst.start < end and inst.end > start


class World(Edits):
    """Tenants, people and mailboxes.  Edits (see Edits) keep delta logs."""

    def __init__(self, seed: str, anchor: date,
                 clock: Callable[[], datetime] | None = None):
        self.seed, self.anchor = seed, anchor
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.tenants: dict[str, Tenant] = {}
        self.users: dict[str, User] = {}
        self.version = 0
        self._by_email: dict[str, User] = {}
        self._mailboxes: dict[str, Mailbox] = {}
        self._copies: dict[str, Copy] = {}          # every mailbox's copies by id
        self._copies_of: dict[int, list[Copy]] = {}
        self._next_key = 1
        # Told of every change to a mailbox's items: on_change(copy, "created"|"updated"|
        # "deleted"). The app's notifier sets it; copies given while it is set are "created".
        self.on_change: Callable[[Copy, str], None] | None = None
        self._fresh: set[str] = set()

    def add_tenant(self, tenant: Tenant) -> Tenant:
        self.tenants[tenant.id] = tenant
        return tenant

    def add_user(self, user: User) -> User:
        user.email = user.email.lower()
        user.aliases = [a.lower() for a in user.aliases]
        for address in (user.email, *user.aliases):
            if address in self._by_email:
                raise ValueError(f"address {address} already belongs to someone")
            self._by_email[address] = user
        self.users[user.oid] = user
        self._mailboxes[user.oid] = Mailbox(user)
        return user

    def user_by_email(self, email: str) -> User | None:
        """By primary address or alias, case-insensitive."""
        return self._by_email.get((email or "").strip().lower())

    def direct_reports(self, oid: str) -> list[User]:
        return [u for u in self.users.values() if u.manager_oid == oid]

    def mailbox(self, oid: str) -> Mailbox:
        if oid not in self._mailboxes:
            raise KeyError(f"no mailbox for user {oid!r}")
        return self._mailboxes[oid]

    def next_key(self) -> int:
        self._next_key += 1
        return self._next_key - 1

    def add_meeting(self, meeting: Meeting) -> dict[str, str]:
        """Give every participant with a mailbox a copy; returns {email: event id}."""
        placed = {}
        for person in meeting.people():
            user = self.user_by_email(person.email) if person.type != "resource" else None
            if user is not None and user.email not in placed:
                placed[user.email] = self._give_copy(meeting, user).id
        return placed

    def _give_copy(self, meeting: Meeting, user: User) -> Copy:
        copy = Copy(meeting, user, ids.master_id(user.oid, meeting.key))
        if self.on_change is not None:
            self._fresh.add(copy.id)
        self._mailboxes[user.oid].copies[copy.id] = copy
        self._copies[copy.id] = copy
        self._copies_of.setdefault(meeting.key, []).append(copy)
        return copy
