"""Rules 1-9 for one group, and the series key that rule 10 compares (spec
"Live occurrences", "Rules" and "Series key")."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .model import (
    ALL_DAY,
    CANCELLED,
    DECLINED,
    ENDED,
    MANAGER_NOT_PARTICIPANT,
    NOT_DIRECT_REPORT,
    NOT_RECURRING,
    NOT_TWO_PEOPLE,
    PRIVATE,
)
from .people import Directory
from .reading import Entry, Group


@dataclass(slots=True)
class Verdict:
    """What rules 1-9 found for one group. ``reason`` None: it passed them.

    ``live`` is sorted by (start, id), so ``live[-1]`` is the latest live
    occurrence; ``upcoming`` is the earliest live one at or after now."""

    group: Group
    reason: str | None
    live: list[Entry]
    upcoming: Entry | None = None
    people: dict[str, str | None] | None = None
    report: str | None = None
    declined_by: tuple[str, ...] = ()


def judge_group(group: Group, directory: Directory, now: int) -> Verdict:
    """Spec "Rules": checked in order, the first that fails is the reason."""
    if group.single:
        entry = group.master
        return Verdict(group, NOT_RECURRING, [entry] if entry.live else [],
                       entry if entry.live and entry.start >= now else None)
    live = live_occurrences(group)
    if not live:
        return Verdict(group, CANCELLED, live)
    upcoming = next((e for e in live if e.start >= now), None)
    if upcoming is None:
        return Verdict(group, ENDED, live)
    verdict = Verdict(group, None, live, upcoming)
    verdict.reason = _check_latest(verdict, live[-1].raw, directory)
    return verdict


def live_occurrences(group: Group) -> list[Entry]:
    """Spec "Live occurrences": the live occurrences/exceptions; a series with
    none of those at all (live or not) has its live master as its one."""
    if group.occurrences:
        live = [e for e in group.occurrences if e.live]
    else:
        live = [group.master] if group.master is not None and group.master.live else []
    live.sort(key=lambda e: (e.start, e.id))  # greatest start, then greater id, is last
    return live


def _check_latest(verdict: Verdict, latest: dict, directory: Directory) -> str | None:
    """Rules 4-9, all read on the latest live occurrence."""
    if latest.get("isAllDay") is True:
        return ALL_DAY
    if is_private(latest):
        return PRIVATE
    verdict.people = people_of(latest, directory)
    if len(verdict.people) != 2:
        return NOT_TWO_PEOPLE
    if directory.manager not in verdict.people:
        return MANAGER_NOT_PARTICIPANT
    verdict.report = next(p for p in verdict.people if p != directory.manager)
    if verdict.report not in directory.reports:
        return NOT_DIRECT_REPORT
    verdict.declined_by = declined_by(latest, directory, verdict.report)
    return DECLINED if verdict.declined_by else None


def is_private(event: dict) -> bool:
    """Rule 5: anything but ``normal`` (any case) is private; missing or null is
    normal; a wrong JSON type is private, so privacy fails closed."""
    sensitivity = event.get("sensitivity")
    if sensitivity is None:
        return False
    return not isinstance(sensitivity, str) or sensitivity.lower() != "normal"


def people_of(event: dict, directory: Directory) -> dict[str, str | None]:
    """Rule 6: owners of the organizer's and every non-resource attendee's
    address, in order of appearance, each with the first display name seen."""
    people: dict[str, str | None] = {}
    organizer = event.get("organizer")
    if isinstance(organizer, dict):
        _add_person(people, organizer.get("emailAddress"), directory)
    for attendee in _attendees(event):
        # A missing, null or wrong-typed type is a person; only "resource" is not.
        if attendee.get("type") != "resource":
            _add_person(people, attendee.get("emailAddress"), directory)
    return people


def declined_by(event: dict, directory: Directory, report: str) -> tuple[str, ...]:
    """Rule 9: the report's or the manager's attendee entries, then the event's
    own ``responseStatus`` (the mailbox is the manager's)."""
    who: set[str] = set()
    for attendee in _attendees(event):
        owner = _owner(attendee.get("emailAddress"), directory)
        if owner in (report, directory.manager) and _response(attendee.get("status")) == "declined":
            who.add(owner)
    if _response(event.get("responseStatus")) == "declined":
        who.add(directory.manager)
    return tuple(p for p in (report, directory.manager) if p in who)


# Spec "Series key": bytes 0-15 are this class id; bytes 16-19 (hex characters
# 32-39) the instance date, zeroed so that all occurrences share one key.
GOID_CLASS_ID = "040000008200E00074C5B7101A82E008"
_HEX = re.compile(r"[0-9A-Fa-f]+")


def series_key(event: dict) -> tuple[str, str] | None:
    """The key of an ``iCalUId``: a normalized Global Object ID, else the text itself."""
    uid = event.get("iCalUId")
    if not isinstance(uid, str) or not uid:
        return None
    if (len(uid) >= 80 and len(uid) % 2 == 0 and uid[:32].upper() == GOID_CLASS_ID
            and _HEX.fullmatch(uid)):
        upper = uid.upper()
        return ("goid", upper[:32] + "00000000" + upper[40:])
    return ("text", uid)


def _attendees(event: dict) -> list[dict]:
    attendees = event.get("attendees")
    if not isinstance(attendees, list):
        return []
    return [a for a in attendees if isinstance(a, dict)]


def _add_person(people: dict[str, str | None], email: Any, directory: Directory) -> None:
    owner = _owner(email, directory)
    if owner is None:
        return  # a missing or empty address adds no one
    name = email.get("name")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    if people.get(owner) is None:
        people[owner] = name


def _owner(email: Any, directory: Directory) -> str | None:
    return directory.owner_of(email.get("address")) if isinstance(email, dict) else None


def _response(status: Any) -> Any:
    return status.get("response") if isinstance(status, dict) else None
