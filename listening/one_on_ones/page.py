"""What the 1-on-1s page shows: plain view models built from one judgement of the calendar.

Times are in the viewer's own zone (Person.time_zone). Why-not rows never carry
the subject of a private meeting (the filter withholds it; we only say "a
private recurring meeting").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listening import filters
from listening.core import store
from listening.core.crypto import KeyRing
from listening.core.models import Connection, ConnectionState, OneOnOne, OneOnOneStatus, Person
from listening.filters.model import COPIED, REASONS
from listening.one_on_ones import wording
from listening.one_on_ones.cadence import (
    cadence_in_words,
    local_time,
    upcoming,
    zone_of,
)
from listening.one_on_ones.judged import Judgement, judge_calendar, namer

NEXT_FEW = 4
_EARLIEST = datetime.min.replace(tzinfo=UTC)  # sorts a copy without a first occurrence first
PRIVATE_LABEL = "a private recurring meeting"


@dataclass(frozen=True)
class CandidateView:
    series_id: str
    subject: str
    cadence: str
    next_start: str
    organizer: str
    occurrences: int


@dataclass(frozen=True)
class AttachedView:
    one_on_one: OneOnOne
    person: Person | None          # the other person of the pair (report, or manager for employees)
    meeting: CandidateView | None  # None: not a current candidate right now
    next_few: list[str] = field(default_factory=list)
    replacement: CandidateView | None = None
    # Outlook is linked again since the unlink that flagged it: the sync's re-check decides.
    checking: bool = False
    # For the report: (what happened, what their manager has been asked to do).
    for_report: tuple[str, str] | None = None

    @property
    def needs_attention(self) -> bool:
        return self.one_on_one.status is OneOnOneStatus.needs_attention

    @property
    def meeting_words(self) -> str | None:
        """Which meeting it was, in words, when the calendar no longer shows it."""
        return self.one_on_one.meeting_words


@dataclass(frozen=True)
class ReportSection:
    person: Person
    attached: AttachedView | None
    candidates: list[CandidateView]


@dataclass(frozen=True)
class WhyNot:
    meeting: str
    private: bool
    why: str
    # For copies of one series: what tells each apart, and Outlook's link to open it.
    tells_apart: tuple[str, ...] = ()
    web_link: str | None = None


@dataclass(frozen=True)
class ManagerPage:
    connection: Connection | None
    zone: str
    reports: list[ReportSection]
    former: list[AttachedView]
    why_not: list[WhyNot]
    problem: str | None
    unreadable: int

    @property
    def zone_info(self):
        return zone_of(self.zone)


def _view(c: filters.Candidate, zone, you: str, other: Person | None) -> CandidateView:
    if c.organizer == you:
        organizer = "you"
    elif other is not None and c.organizer == (other.email or "").lower():
        organizer = other.label
    else:
        organizer = c.organizer or "unknown"
    return CandidateView(c.series_id, c.subject or "(no subject)", cadence_in_words(c.starts),
                         local_time(c.next_start, zone), organizer, c.occurrences)


def attached_view(row: OneOnOne, other: Person | None, judgement: Judgement, viewer: Person,
                  now: datetime) -> AttachedView:
    zone, you = zone_of(viewer.time_zone), (viewer.email or "").lower()
    candidate = judgement.candidate(row.series_id)
    meeting = _view(candidate, zone, you, other) if candidate is not None else None
    next_few = [local_time(s, zone) for s in upcoming(candidate.starts, now, NEXT_FEW)] if candidate else []
    spare = judgement.candidate(row.replacement_series_id) if row.replacement_series_id else None
    replacement = _view(spare, zone, you, other) if spare is not None else None
    connection = judgement.connection
    checking = (row.attention_code == wording.UNLINKED and connection is not None
                and connection.state is ConnectionState.linked)
    is_report = viewer.id == row.report_id
    told = wording.for_report(row.attention_code, other.label if other else "Your manager") \
        if is_report and row.status is OneOnOneStatus.needs_attention else None
    return AttachedView(row, other, meeting, next_few, replacement, checking, told)


def manager_page(session: Session, keys: KeyRing, manager: Person, now: datetime) -> ManagerPage:
    judgement = judge_calendar(session, keys, manager, now)
    zone, you = zone_of(manager.time_zone), (manager.email or "").lower()
    rows = {r.report_id: r for r in session.scalars(select(OneOnOne).where(
        OneOnOne.org_id == manager.org_id, OneOnOne.manager_id == manager.id))}
    sections = []
    for report in judgement.reports:
        row = rows.pop(report.id, None)
        attached = attached_view(row, report, judgement, manager, now) if row else None
        candidates = [_view(c, zone, you, report) for c in judgement.candidates_for(report)]
        sections.append(ReportSection(report, attached, candidates))
    former = [attached_view(row, store.person(session, manager.org_id, row.report_id), judgement,
                            manager, now) for row in rows.values()]
    return ManagerPage(judgement.connection, zone.key, sections, former,
                       why_not_rows(session, judgement), judgement.problem, len(judgement.unreadable))


def why_not_rows(session: Session, judgement: Judgement) -> list[WhyNot]:
    """Rejected recurring series: rules in the order of docs/filter-rules.md, then by what they are called."""
    rejected = judgement.recurring_rejections()
    names = namer(session, judgement, {p.email for r in rejected for p in r.people}
                  | {e for r in rejected for e in r.declined_by}
                  | {f.organizer for f in judgement.facts.values() if f.organizer})
    zone = zone_of(judgement.manager.time_zone)
    rows = []
    for r in sorted(rejected, key=lambda r: (REASONS.index(r.reason), r.withheld,
                                              (r.subject or "").lower(), r.first_start or _EARLIEST,
                                              r.series_id or "")):
        if r.withheld:
            rows.append(WhyNot(PRIVATE_LABEL, True, wording.why_not(r, names)))
        elif r.reason == COPIED:
            facts = judgement.facts.get(r.series_id)
            rows.append(WhyNot(r.subject or "(no subject)", False, wording.why_not(r, names),
                               _tells_apart(r, facts, names, zone), facts.web_link if facts else None))
        else:
            rows.append(WhyNot(r.subject or "(no subject)", False, wording.why_not(r, names)))
    return rows


def _tells_apart(r, facts, names, zone) -> tuple[str, ...]:
    """Organizer, first occurrence and count of one copy (Graph gives no creation time in a
    calendar view: docs/microsoft-graph.md §1)."""
    told = []
    if facts is not None and facts.organizer:
        told.append(f"organized by {names(facts.organizer)}")
    if r.first_start is not None:
        told.append(f"first occurrence {local_time(r.first_start, zone)}")
    if r.occurrences:
        told.append(f"{r.occurrences} occurrence{'' if r.occurrences == 1 else 's'} in view")
    return tuple(told)


@dataclass(frozen=True)
class MyManager:
    manager: Person
    attached: AttachedView | None


def my_manager(session: Session, keys: KeyRing, person: Person, now: datetime) -> MyManager | None:
    """For anyone with a manager: which of the manager's series is their 1-on-1 (read-only)."""
    if person.manager_id is None:
        return None
    manager = store.person(session, person.org_id, person.manager_id)
    if manager is None:
        return None
    row = session.scalar(select(OneOnOne).where(
        OneOnOne.org_id == person.org_id, OneOnOne.manager_id == manager.id,
        OneOnOne.report_id == person.id))
    if row is None:
        return MyManager(manager, None)
    series = [row.series_id] + ([row.replacement_series_id] if row.replacement_series_id else [])
    # Only this person's series and this person as the report: nothing else of the manager's is read.
    judgement = judge_calendar(session, keys, manager, now, series_ids=series, reports=[person])
    return MyManager(manager, attached_view(row, manager, judgement, person, now))
