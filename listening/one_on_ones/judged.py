"""Run the filter over a manager's stored calendar, with the people it needs from the directory."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from listening import filters
from listening.core import store
from listening.core.crypto import KeyRing
from listening.core.models import Connection, Person
from listening.one_on_ones.calendar import load_recurring
from listening.outlook import linking

DIRECTORY_CONFLICT = ("Two people in the directory share an email address or alias, so meetings "
                      "cannot be matched to people. Ask your HR admin to correct the directory.")


@dataclass
class Judgement:
    """The filter's verdict on one manager's stored calendar, indexed for the page."""
    manager: Person
    connection: Connection | None
    reports: list[Person]
    result: filters.Result = field(default_factory=filters.Result)
    unreadable: frozenset[str] = frozenset()
    problem: str | None = None
    facts: dict = field(default_factory=dict)   # series id -> calendar.SeriesFacts

    def __post_init__(self):
        self._candidates = {c.series_id: c for c in self.result.candidates}
        self._rejected = {r.series_id: r for r in self.result.rejected if r.series_id is not None}
        self._reports = {p.email.lower(): p for p in self.reports}

    def candidate(self, series_id: str) -> filters.Candidate | None:
        return self._candidates.get(series_id)

    def rejected(self, series_id: str) -> filters.Rejected | None:
        return self._rejected.get(series_id)

    def candidates_for(self, report: Person) -> list[filters.Candidate]:
        """In the filter's order: next occurrence first."""
        email = (report.email or "").lower()
        return [c for c in self.result.candidates if c.report == email]

    def report_for(self, candidate: filters.Candidate) -> Person | None:
        return self._reports.get(candidate.report)

    def recurring_rejections(self) -> list[filters.Rejected]:
        return [r for r in self.result.rejected if r.kind == "series"]


def filter_person(person: Person) -> filters.Person:
    return filters.Person(person.email or "", tuple(person.aliases or ()))


def judge_calendar(session: Session, keys: KeyRing, manager: Person, now: datetime, *,
                   series_ids: Iterable[str] | None = None, reports: list[Person] | None = None) -> Judgement:
    """Judge the manager's stored recurring events against their current direct reports
    (or against ``reports``, e.g. only the one person whose 1-on-1 is looked at)."""
    connection = linking.connection_of(session, manager)
    if reports is None:
        reports = store.direct_reports(session, manager.org_id, manager.id)
    reports = [p for p in reports if p.email]
    if connection is None:
        return Judgement(manager, None, reports)
    stored = load_recurring(session, keys, connection, now, series_ids)
    try:
        result = filters.judge(now, filter_person(manager), [filter_person(p) for p in reports],
                               stored.events)
    except filters.FilterInputError:
        return Judgement(manager, connection, reports, unreadable=stored.unreadable,
                         problem=DIRECTORY_CONFLICT, facts=stored.facts)
    return Judgement(manager, connection, reports, with_every_occurrence(result, stored.live_starts),
                     stored.unreadable, facts=stored.facts)


def with_every_occurrence(result: filters.Result, live: dict) -> filters.Result:
    """Put back what the filter would have counted had it seen every occurrence (see calendar.py):
    all live starts, their number, the first and the last."""
    candidates = tuple(replace(c, starts=live[c.series_id], occurrences=len(live[c.series_id]))
                       for c in result.candidates)
    rejected = tuple(
        replace(r, occurrences=len(live[r.series_id]), first_start=(live[r.series_id] or (None,))[0],
                last_start=(live[r.series_id] or (None,))[-1]) if r.series_id in live and r.kind == "series"
        else r for r in result.rejected)
    return filters.Result(candidates, rejected)


def directory_labels(session: Session, org_id: int, emails: Iterable[str]) -> dict[str, str]:
    """address -> the directory's name for it (by email or alias); unknown addresses are absent."""
    wanted = sorted({e.lower() for e in emails if e})
    if not wanted:
        return {}
    rows = session.execute(select(Person.email, Person.aliases, Person.display_name).where(
        Person.org_id == org_id, Person.erased_at.is_(None),
        or_(Person.email.in_(wanted), Person.aliases.overlap(wanted))))
    labels = {}
    for email, aliases, name in rows:
        for address in (email, *(aliases or ())):
            if address and address.lower() in wanted and name:
                labels[address.lower()] = name
    return labels


def namer(session: Session, judgement: Judgement, emails: Iterable[str]):
    """A Names function for wording.why_not: 'you', a directory name, else the address."""
    manager_email = (judgement.manager.email or "").lower()
    labels = directory_labels(session, judgement.manager.org_id, emails)

    def name(email: str) -> str:
        return "you" if email == manager_email else labels.get(email, email)
    return name
