"""Attach, replace and detach: one series per manager-report pair, every outcome audited.

Each function works in the caller's session and never commits (the view
commits once). A refusal raises ``Refused`` AFTER writing its audit entry and
changing nothing else, so the view commits the audit entry and shows the
message. Audit details hold ids and reason codes only, never a subject.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core import store
from listening.core.crypto import KeyRing
from listening.core.models import INT4_MAX, OneOnOne, OneOnOneStatus, Person
from listening.one_on_ones import announce
from listening.one_on_ones.cadence import meeting_words, zone_of
from listening.one_on_ones.judged import judge_calendar
from listening.outlook import linking

MAX_SERIES_ID = 512  # Graph ids are ~150 characters; anything far longer is not one


class Refused(Exception):
    """Refused with ``message`` for the person and HTTP ``status``; ``reason`` is the audit code."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(reason)
        self.status, self.reason, self.message = status, reason, message


@dataclass(frozen=True)
class Done:
    message: str
    one_on_one: OneOnOne | None = None


def _refuse(session: Session, manager: Person, operation: str, status: int, reason: str,
            message: str, report: Person | None = None, raw_id=None, series_id=None) -> Refused:
    details = {"operation": operation, "reason": reason}
    if report is None and raw_id is not None:
        details["report_id"] = str(raw_id)[:40]
    if series_id:
        details["series_id"] = str(series_id)[:MAX_SERIES_ID]
    audit.record(session, Action.attach_refused, manager, report, details)
    return Refused(status, reason, message)


def _person_id(session: Session, manager: Person, operation: str, raw_id, series_id=None) -> int:
    try:
        person_id = int(str(raw_id).strip())
        if not 1 <= person_id <= INT4_MAX:
            raise ValueError("not a person id")
        return person_id
    except (TypeError, ValueError):
        raise _refuse(session, manager, operation, 400, "bad_form",
                      "The form did not say whose 1-on-1 this is. Reload the page and try again.",
                      raw_id=raw_id, series_id=series_id) from None


def _report_of(session: Session, manager: Person, operation: str, raw_id, series_id=None) -> Person:
    """The person named by the form, who must report to ``manager`` now."""
    report = store.person(session, manager.org_id, _person_id(session, manager, operation, raw_id, series_id))
    if report is None:
        raise _refuse(session, manager, operation, 404, "unknown_person", "There is no such person.",
                      raw_id=raw_id, series_id=series_id)
    if report.manager_id != manager.id or not report.active:
        raise _refuse(session, manager, operation, 403, "not_your_report",
                      f"{report.label} does not report to you in the directory.", report,
                      series_id=series_id)
    return report


def _pair(session: Session, manager: Person, report_id: int) -> OneOnOne | None:
    return session.scalar(select(OneOnOne).where(
        OneOnOne.org_id == manager.org_id, OneOnOne.manager_id == manager.id,
        OneOnOne.report_id == report_id).with_for_update())


def attach(session: Session, keys: KeyRing, manager: Person, raw_report_id, series_id, now: datetime, *,
           replace: bool = False) -> Done:
    """Make ``series_id`` the 1-on-1 with that report; ``replace`` swaps an attached one."""
    operation = "replace" if replace else "attach"
    series_id = series_id.strip() if isinstance(series_id, str) else ""
    if not series_id or len(series_id) > MAX_SERIES_ID:
        raise _refuse(session, manager, operation, 400, "bad_form",
                      "The form did not say which meeting to attach. Reload the page and try again.",
                      raw_id=raw_report_id)
    report = _report_of(session, manager, operation, raw_report_id, series_id)
    candidate = _current_candidate(session, keys, manager, report, operation, series_id, now)  # or a refusal
    existing = _pair(session, manager, report.id)
    if existing is not None and existing.series_id == series_id \
            and existing.status is OneOnOneStatus.ok:
        # The message rides in the session cookie (flash): no calendar text goes there.
        return Done(f"That meeting is already your 1-on-1 with {report.label}.", existing)
    if existing is not None and existing.series_id != series_id and not replace:
        raise _refuse(session, manager, operation, 409, "already_attached",
                      f"A meeting is already attached as your 1-on-1 with {report.label}; "
                      "use “Replace” to change it.", report, series_id=series_id)
    if existing is None and replace:
        raise _refuse(session, manager, operation, 409, "nothing_to_replace",
                      f"No 1-on-1 with {report.label} is attached yet; attach one instead.",
                      report, series_id=series_id)
    words = meeting_words(candidate.starts, now, zone_of(manager.time_zone))
    row, previous = _write(session, manager, report, existing, series_id, now, operation, words)
    details = {"one_on_one_id": row.id, "series_id": series_id, "operation": operation}
    if previous is not None:
        details["previous_series_id"] = previous
    audit.record(session, Action.attach, manager, report, details)
    announce.changed(session, announce.ATTACHED, [row], now)
    return Done(f"Attached: the meeting is now your 1-on-1 with {report.label}.", row)


def _current_candidate(session, keys, manager, report, operation, series_id, now):
    """The filter's candidate ``series_id`` with ``report``, judged now, or a refusal."""
    if linking.connection_of(session, manager) is None:
        raise _refuse(session, manager, operation, 409, "no_connection",
                      "Your Outlook calendar is not linked, so there is nothing to attach. "
                      "Link it first.", report, series_id=series_id)
    judgement = judge_calendar(session, keys, manager, now)
    if judgement.problem:
        raise _refuse(session, manager, operation, 409, "directory_conflict", judgement.problem,
                      report, series_id=series_id)
    candidate = judgement.candidate(series_id)
    if candidate is None or candidate.report != (report.email or "").lower():
        raise _refuse(session, manager, operation, 409, "not_a_candidate",
                      f"That meeting is not a current 1-on-1 candidate with {report.label}. "
                      "Reload the page to see the current candidates.", report, series_id=series_id)
    return candidate


def _write(session, manager, report, existing, series_id, now, operation, words):
    previous = existing.series_id if existing is not None else None
    if existing is None:
        existing = OneOnOne(org_id=manager.org_id, manager_id=manager.id, report_id=report.id)
        try:
            with session.begin_nested():  # a double submit racing this one: refuse, not 500
                _set(existing, series_id, now, words)
                session.add(existing)
                session.flush()
        except IntegrityError:
            raise _refuse(session, manager, operation, 409, "already_attached",
                          f"A meeting was just attached as your 1-on-1 with {report.label}. "
                          "Reload the page.", report, series_id=series_id) from None
    else:
        _set(existing, series_id, now, words)
        session.flush()
    return existing, previous


def _set(row: OneOnOne, series_id: str, now: datetime, words: str | None) -> None:
    row.series_id, row.status, row.meeting_words = series_id, OneOnOneStatus.ok, words
    row.attention_reason = row.attention_code = row.replacement_series_id = None
    row.attached_at = row.checked_at = now


def detach(session: Session, manager: Person, raw_report_id, now: datetime | None = None) -> Done:
    """Remove the 1-on-1 with that person (also one who no longer reports to the manager)."""
    report_id = _person_id(session, manager, "detach", raw_report_id)
    row = _pair(session, manager, report_id)
    report = store.person(session, manager.org_id, report_id)
    if row is None:
        raise _refuse(session, manager, "detach", 404, "nothing_attached",
                      "No 1-on-1 with that person is attached.", report, raw_id=raw_report_id)
    details = {"one_on_one_id": row.id, "series_id": row.series_id}
    announce.changed(session, announce.DETACHED, [row], now or datetime.now(UTC))  # before it is gone
    session.delete(row)
    session.flush()
    audit.record(session, Action.detach, manager, report or report_id, details)
    label = report.label if report else "that person"
    return Done(f"Your 1-on-1 with {label} is detached. Nothing changed in Outlook.")
