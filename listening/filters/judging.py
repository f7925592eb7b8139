"""``judge``: every group and malformed entry to exactly one Candidate or Rejected."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from .model import (
    COPIED,
    MALFORMED,
    PRIVATE,
    Candidate,
    FilterInputError,
    Participant,
    Person,
    Rejected,
    Result,
)
from .people import Directory
from .reading import Group, Malformed, read_events
from .rules import Verdict, is_private, judge_group, people_of, series_key
from .times import instant_of, read_start, to_datetime


def judge(now: datetime, manager: Person, reports: Iterable[Person],
          events: Sequence) -> Result:
    """Judge a mailbox's events for ``manager`` (pure: ``now`` is an argument).

    Raises FilterInputError for unusable people or ``now``, or ``events`` not a list."""
    instant = instant_of(now)
    directory = Directory(manager, reports)
    if not isinstance(events, (list, tuple)):
        raise FilterInputError("events is not a list")
    groups, malformed = read_events(list(events))
    verdicts = [judge_group(group, directory, instant) for group in groups]
    copies = _copies(verdicts)
    candidates, rejected = [], [_malformed(entry) for entry in malformed]
    for verdict in verdicts:
        # A singleInstance may share a copied series' id: only passing series are copies.
        others = copies.get(verdict.group.series_id, ()) if verdict.reason is None else ()
        if verdict.reason is None and not others:
            candidates.append(_candidate(verdict, directory))
        else:
            rejected.append(_rejected(verdict, directory, others))
    candidates.sort(key=lambda c: (c.next_start, c.series_id))
    # Spec: series_id in code-point order (Python's str order), None last, equal
    # ones in input order.
    rejected.sort(key=lambda r: (r.series_id is None, r.series_id or "", r.position))
    return Result(tuple(candidates), tuple(rejected))


def _copies(verdicts: list[Verdict]) -> dict[str, tuple[str, ...]]:
    """Rule 10: for each series that passed rules 1-9, the other series with the
    same key that have a live occurrence at or after now, whatever they failed."""
    by_key: dict[tuple, list[str]] = {}
    for verdict in verdicts:
        if verdict.group.single or verdict.upcoming is None:
            continue  # only series count, and only while not ended or cancelled
        key = series_key(verdict.live[-1].raw)
        if key is not None:
            by_key.setdefault(key, []).append(verdict.group.series_id)
    copies = {}
    for verdict in verdicts:
        if verdict.reason is None:
            key = series_key(verdict.live[-1].raw)
            same = by_key.get(key, ()) if key is not None else ()
            others = tuple(sorted(s for s in same if s != verdict.group.series_id))
            if others:
                copies[verdict.group.series_id] = others
    return copies


def _candidate(verdict: Verdict, directory: Directory) -> Candidate:
    latest = verdict.live[-1].raw
    return Candidate(
        series_id=verdict.group.series_id, report=verdict.report, subject=_subject(latest),
        next_start=to_datetime(verdict.upcoming.start), occurrences=len(verdict.live),
        starts=tuple(to_datetime(e.start) for e in verdict.live),
        organizer=_organizer(latest, directory))


def _rejected(verdict: Verdict, directory: Directory, others: tuple[str, ...]) -> Rejected:
    """The reason plus what explains it; nothing but the code when the meeting is private."""
    group, live = verdict.group, verdict.live
    shown = live[-1].raw if live else _latest_of_all(group).raw
    withheld = verdict.reason == PRIVATE or is_private(shown)
    people = () if withheld else tuple(
        Participant(email, name, directory.role_of(email))
        for email, name in (verdict.people or people_of(shown, directory)).items())
    return Rejected(
        series_id=group.series_id, reason=verdict.reason or COPIED,
        kind="single" if group.single else "series", withheld=withheld,
        subject=None if withheld else _subject(shown), people=people,
        occurrences=len(live),
        first_start=to_datetime(live[0].start) if live else None,
        last_start=to_datetime(live[-1].start) if live else None,
        next_start=to_datetime(verdict.upcoming.start) if verdict.upcoming else None,
        declined_by=verdict.declined_by, copies=others, position=group.position)


def _malformed(entry: Malformed) -> Rejected:
    return Rejected(series_id=entry.id, reason=MALFORMED, kind="entry", withheld=True,
                    problem=entry.problem, position=entry.position)


def _latest_of_all(group: Group):
    """With no live occurrence (rule 2), the latest occurrence of any kind
    explains the series; an unreadable start sorts first."""
    entries = group.occurrences or [group.master]
    return max(entries, key=lambda e: (_start_or_min(e), e.id))


def _start_or_min(entry) -> int:
    start = entry.start if entry.start is not None else read_start(entry.raw.get("start"))
    return start if start is not None else -(1 << 62)


def _subject(event: dict) -> str | None:
    subject = event.get("subject")
    return subject if isinstance(subject, str) else None


def _organizer(event: dict, directory: Directory) -> str | None:
    organizer = event.get("organizer")
    email = organizer.get("emailAddress") if isinstance(organizer, dict) else None
    return directory.owner_of(email.get("address")) if isinstance(email, dict) else None
