"""Keeping attached 1-on-1s right: re-check each against the fresh copy after every sync.

A 1-on-1 that disappeared or stopped qualifying gets ``needs_attention``, a
reason in plain words and, when the same two people have another current
candidate (e.g. the series was deleted and recreated), that candidate as the
one-click replacement. One that qualifies again goes back to ``ok``. Every
change of that state is audited (``Action.needs_attention``, details say which
way); a re-check that finds nothing new writes only ``checked_at``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core.crypto import KeyRing
from listening.core.models import Connection, OneOnOne, OneOnOneStatus, Person
from listening.filters.model import DECLINED
from listening.one_on_ones import announce, wording
from listening.one_on_ones.cadence import meeting_words, zone_of
from listening.one_on_ones.judged import Judgement, judge_calendar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    ok: bool
    code: str | None = None          # for the audit log
    reason: str | None = None        # plain words, stored and shown
    replacement: str | None = None   # a current candidate with the same two people


@dataclass(frozen=True)
class Rechecked:
    checked: int = 0
    flagged: int = 0
    cleared: int = 0


def assess(row: OneOnOne, report: Person | None, judgement: Judgement) -> Assessment | None:
    """Does the attached series still qualify? None: its stored copy is unreadable, so unknown."""
    manager = judgement.manager
    if report is None or not report.active or report.manager_id != manager.id:
        label = report.label if report is not None else "This person"
        return Assessment(False, "not_your_report", wording.moved_away(label))
    if row.series_id in judgement.unreadable:
        return None
    candidate = judgement.candidate(row.series_id)
    if candidate is not None and candidate.report == (report.email or "").lower():
        return Assessment(True)
    if candidate is not None:
        other = judgement.report_for(candidate)
        code, reason = "other_report", wording.now_with(other.label if other else "someone else", report.label)
    elif (rejected := judgement.rejected(row.series_id)) is not None:
        declined_by_manager = (manager.email or "").lower() in rejected.declined_by
        code, reason = rejected.reason, wording.attention_reason(rejected.reason, report.label,
                                                                 declined_by_manager)
        if code == DECLINED:  # who declined decides what each of the two is told
            code = wording.DECLINED_BY_MANAGER if declined_by_manager else wording.DECLINED_BY_REPORT
    else:
        code, reason = "gone", wording.GONE
    return Assessment(False, code, reason, _replacement(judgement, report, row.series_id))


def _replacement(judgement: Judgement, report: Person, attached: str) -> str | None:
    """The next current candidate with the same report (the filter's order: soonest first)."""
    return next((c.series_id for c in judgement.candidates_for(report) if c.series_id != attached), None)


def apply(session: Session, row: OneOnOne, found: Assessment | None, now: datetime) -> str:
    """Write the assessment; 'flagged', 'cleared' or 'unchanged'."""
    row.checked_at = now
    if found is None:
        return "unchanged"
    if found.ok:
        if row.status is OneOnOneStatus.ok:
            return "unchanged"
        row.status, row.attention_reason, row.replacement_series_id = OneOnOneStatus.ok, None, None
        row.attention_code = None
        _audit(session, row, {"status": "ok"})
        session.flush()
        announce.changed(session, announce.RESTORED, [row], now)
        return "cleared"
    if (row.status, row.attention_reason, row.replacement_series_id) == \
            (OneOnOneStatus.needs_attention, found.reason, found.replacement):
        return "unchanged"
    newly = row.status is not OneOnOneStatus.needs_attention
    row.status, row.attention_reason = OneOnOneStatus.needs_attention, found.reason
    row.attention_code, row.replacement_series_id = found.code, found.replacement
    _audit(session, row, {"status": "needs_attention", "reason": found.code,
                          "replacement_series_id": found.replacement})
    if newly:  # a new reason for a 1-on-1 already flagged changes nothing the API shows
        session.flush()
        announce.changed(session, announce.NEEDS_ATTENTION, [row], now)
    return "flagged"


def remember_meeting(row: OneOnOne, judgement: Judgement, now: datetime, zone) -> None:
    """Keep, in words, which meeting the series is while the calendar copy still shows it."""
    candidate = judgement.candidate(row.series_id)
    if candidate is not None:
        words = meeting_words(candidate.starts, now, zone)
        if words and words != row.meeting_words:
            row.meeting_words = words


def _audit(session: Session, row: OneOnOne, details: dict) -> None:
    details = {"one_on_one_id": row.id, "series_id": row.series_id, **details}
    audit.record(session, Action.needs_attention, None, row.report_id, details, org_id=row.org_id)


def recheck_after_sync(session: Session, keys: KeyRing, connection: Connection | None,
                       now: datetime | None = None) -> Rechecked:
    """Re-check the connection owner's attached 1-on-1s (called by sync.run; never commits)."""
    if connection is None:
        return Rechecked()
    rows = list(session.scalars(select(OneOnOne).where(
        OneOnOne.org_id == connection.org_id, OneOnOne.manager_id == connection.person_id)
        .order_by(OneOnOne.id).with_for_update()))
    if not rows:
        return Rechecked()  # nothing attached: nothing to decrypt
    now = now or datetime.now(UTC)
    manager = session.get(Person, connection.person_id)
    judgement = judge_calendar(session, keys, manager, now)
    if judgement.problem:
        log.warning("re-check of connection %s skipped: directory conflict", connection.id)
        return Rechecked()
    people = {p.id: p for p in session.scalars(select(Person).where(
        Person.org_id == connection.org_id, Person.id.in_([r.report_id for r in rows])))}
    zone = zone_of(manager.time_zone)
    outcomes = []
    for row in rows:
        outcomes.append(apply(session, row, assess(row, people.get(row.report_id), judgement), now))
        remember_meeting(row, judgement, now, zone)
    session.flush()
    return Rechecked(len(rows), outcomes.count("flagged"), outcomes.count("cleared"))
