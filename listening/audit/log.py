"""Reading the audit log: validated filters, keyset pages newest first, a streamed CSV export.

Every query is scoped to one organization. Pages are keyed on ``id`` (newest
first): within an organization entries are written one at a time under an
advisory lock (audit.record), so id order is write order, and every index a
page can use ends in ``id`` (``audit_org_{id,action,actor,subject}_idx``), which
keeps a page an index range scan at any depth. A date range is turned into id
bounds through ``audit_org_time_idx`` for the same reason. (Should the clock
step back while entries are written, an entry at the very edge of a date range
can fall outside it; nothing is ever shown out of order.)
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from listening.audit import Action
from listening.core import spreadsheet, store, when
from listening.core.models import INT4_MAX, INT8_MAX, AuditEvent, Person

PAGE_SIZE = 50
EXPORT_BATCH = 2000
SYSTEM = "system"  # the actor filter's value for entries no person caused (jobs, CLI)
ACTIONS = tuple(a.value for a in Action)


class FilterError(ValueError):
    """Query parameters that are not valid filters; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    actor: int | None = None
    system_actor: bool = False
    subject: int | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None
    before: int | None = None  # keyset cursor: show entries with a smaller id
    # The viewer's own views of the log outnumber everything else on a quiet day, so they
    # are left out unless asked for (``own_views``); ``viewer`` is set by the page, never
    # taken from the request.
    own_views: bool = False
    viewer: int | None = None

    def query_args(self, **changes) -> dict:
        """The filters as URL parameters (for links to the next page and the export)."""
        args = {"actor": SYSTEM if self.system_actor else self.actor, "subject": self.subject,
                "action": self.action, "since": self.since and self.since.isoformat(),
                "until": self.until and self.until.isoformat(), "before": self.before,
                "own_views": "1" if self.own_views else None} | changes
        return {k: v for k, v in args.items() if v is not None}

    @property
    def hides_own_views(self) -> bool:
        return self.viewer is not None and not self.own_views \
            and self.action != Action.audit_viewed.value


# Dates a filter may name: the day after ``until`` and the viewer's zone offset must still be a
# date Python and PostgreSQL can hold (9999-12-31 overflowed), and no entry predates 2000.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(9998, 12, 31)
DATE_RANGE = "{} must be a date from 2000-01-01 to 9998-12-31."


def _whole_number(name: str):
    return fields.Integer(strict=False, validate=validate.Range(min=1, max=INT4_MAX,
                                                                error=f"{name} must be a positive id."),
                          error_messages={"invalid": f"{name} must be a person id (a whole number)."})


class FilterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    actor = fields.String(validate=validate.Regexp(r"^(system|[1-9][0-9]{0,9})$",
                                                   error="actor must be a person id or 'system'."))
    subject = _whole_number("subject")
    action = fields.String(validate=validate.OneOf(ACTIONS, error="action is not a known action."))
    since = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY, error=DATE_RANGE.format("since")),
                        error_messages={"invalid": "since must be a date written YYYY-MM-DD."})
    until = fields.Date(validate=validate.Range(min=FIRST_DAY, max=LAST_DAY, error=DATE_RANGE.format("until")),
                        error_messages={"invalid": "until must be a date written YYYY-MM-DD."})
    before = fields.Integer(strict=False, validate=validate.Range(min=1, max=INT8_MAX, error="before is not a page."),
                            error_messages={"invalid": "before is not a page."})
    own_views = fields.Boolean(error_messages={"invalid": "own_views must be 1 or 0."})

    @validates_schema
    def _actor_is_an_id(self, data, **_kwargs):
        if data.get("actor", SYSTEM) != SYSTEM and int(data["actor"]) > INT4_MAX:
            raise ValidationError("actor must be a person id or 'system'.", "actor")

    @validates_schema
    def _range_in_order(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("since must not be after until.", "until")


def parse_filters(args) -> Filters:
    """Filters from query parameters; empty fields are ignored. Raises FilterError."""
    given = {k: v.strip() for k, v in args.items() if isinstance(v, str) and v.strip()}
    try:
        data = FilterSchema().load(given)
    except ValidationError as err:
        raise FilterError(" ".join(_flatten(err.messages))) from None
    actor = data.pop("actor", None)
    return Filters(actor=int(actor) if actor and actor != SYSTEM else None,
                   system_actor=actor == SYSTEM, **data)


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    return list(messages) if isinstance(messages, list) else [str(messages)]


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _id_bounds(session: Session, org_id: int, filters: Filters, tz: ZoneInfo):
    """(lowest, highest) id inside the date range in the viewer's zone (None: unbounded),
    or None when the range holds no entry at all."""
    lo = hi = None
    if filters.since:
        lo = session.scalar(select(AuditEvent.id).where(
            AuditEvent.org_id == org_id, AuditEvent.occurred_at >= _day_start(filters.since, tz))
            .order_by(AuditEvent.occurred_at, AuditEvent.id).limit(1))
        if lo is None:
            return None
    if filters.until:
        end = _day_start(filters.until + timedelta(days=1), tz)
        hi = session.scalar(select(AuditEvent.id).where(
            AuditEvent.org_id == org_id, AuditEvent.occurred_at < end)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(1))
        if hi is None:
            return None
    return None if lo is not None and hi is not None and lo > hi else (lo, hi)


def _filtered(org_id: int, filters: Filters, bounds) -> Select:
    stmt = select(AuditEvent).where(AuditEvent.org_id == org_id)
    if bounds[0] is not None:
        stmt = stmt.where(AuditEvent.id >= bounds[0])
    if bounds[1] is not None:
        stmt = stmt.where(AuditEvent.id <= bounds[1])
    if filters.system_actor:
        stmt = stmt.where(AuditEvent.actor_id.is_(None))
    elif filters.actor is not None:
        stmt = stmt.where(AuditEvent.actor_id == filters.actor)
    if filters.subject is not None:
        stmt = stmt.where(AuditEvent.subject_id == filters.subject)
    if filters.action is not None:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.hides_own_views:
        stmt = stmt.where(or_(AuditEvent.action != Action.audit_viewed.value,
                              AuditEvent.actor_id.is_distinct_from(filters.viewer)))
    return stmt


def entry_query(org_id: int, entry_id: int) -> Select:
    return select(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.id == entry_id)


def seq_query(org_id: int, seq: int) -> Select:
    return select(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.seq == seq)


@dataclass(frozen=True)
class Page:
    entries: list[AuditEvent]
    next_before: int | None  # cursor for the next (older) page, None on the last page


def page(session: Session, org_id: int, filters: Filters, tz: ZoneInfo, size: int = PAGE_SIZE) -> Page:
    """One page of the organization's entries matching ``filters``, newest first."""
    bounds = _id_bounds(session, org_id, filters, tz)
    if bounds is None:
        return Page([], None)
    stmt = _filtered(org_id, filters, bounds)
    if filters.before is not None:
        stmt = stmt.where(AuditEvent.id < filters.before)
    rows = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(size + 1)))
    more = len(rows) > size
    return Page(rows[:size], rows[size - 1].id if more else None)


def person_label(person: Person | None, person_id: int | None) -> str:
    """How the log names someone: their label, or a pseudonym once they are erased."""
    if person_id is None:
        return "system"
    if person is None:
        return f"person #{person_id}"
    return _label(person.id, person.display_name, person.email, person.erased_at)


def _label(person_id: int, name: str | None, email: str | None, erased_at) -> str:
    """Person.label, plus the pseudonym of an erased person (one rule for rows and objects)."""
    return f"person #{person_id} (erased)" if erased_at is not None else Person.label_of(person_id, name, email)


def choices(session: Session, org_id: int) -> list[tuple[int, str]]:
    """(id, label) of everyone in the organization, for the filter menus: plain rows, not
    Person objects, because a directory of thousands is listed at every page view
    (bench/audit_bench.py, the whole page)."""
    rows = session.execute(
        select(Person.id, Person.display_name, Person.email, Person.erased_at)
        .where(Person.org_id == org_id)
        .order_by(*store.PEOPLE_ORDER))
    return [(i, _label(i, name, email, erased)) for i, name, email, erased in rows]


def labels(session: Session, org_id: int, entries: list[AuditEvent]) -> dict[int | None, str]:
    """Labels for every actor and subject of ``entries`` (one query, scoped to the organization)."""
    ids = {i for e in entries for i in (e.actor_id, e.subject_id) if i is not None}
    people = {p.id: p for p in session.scalars(
        select(Person).where(Person.org_id == org_id, Person.id.in_(ids)))} if ids else {}
    return {None: "system"} | {i: person_label(people.get(i), i) for i in ids}


def shown_time(moment: datetime, tz: ZoneInfo) -> str:
    """'Mon 7 Dec 2026, 09:15:02' in the viewer's zone (the page names the zone once)."""
    local = moment.astimezone(tz)
    return f"{when.local_time(local, tz)}:{local:%S}"


CSV_HEADER = ("seq", "occurred_at", "action", "actor_id", "actor", "subject_id", "subject",
              "ip", "user_agent", "details", "hash")


def _csv_row(entry: AuditEvent, names: dict, tz: ZoneInfo) -> list:
    """One entry's cells, made safe for a spreadsheet as they are written (core/spreadsheet.py)."""
    return [entry.seq, entry.occurred_at.astimezone(tz).isoformat(), entry.action, entry.actor_id,
            names.get(entry.actor_id), entry.subject_id, names.get(entry.subject_id), entry.ip,
            entry.user_agent, json.dumps(entry.details, sort_keys=True, ensure_ascii=False), entry.hash.hex()]


def export_csv(session: Session, org_id: int, filters: Filters, tz: ZoneInfo) -> Iterator[str]:
    """The whole filtered set as CSV text chunks, newest first, read in keyset batches."""
    buffer = io.StringIO()
    writer = spreadsheet.Writer(buffer)
    writer.writerow(CSV_HEADER)
    current = filters
    while True:
        batch = page(session, org_id, current, tz, size=EXPORT_BATCH)
        names = labels(session, org_id, batch.entries)
        writer.writerows(_csv_row(e, names, tz) for e in batch.entries)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        session.expunge_all()  # a long export must not keep every row in memory (own session)
        if batch.next_before is None:
            return
        current = replace(current, before=batch.next_before)


# --- verification on the page ------------------------------------------------------------------
# Verifying recomputes every hash (about 100 µs an entry): a short chain is verified
# while the HR admin waits, a long one by a job (jobs/audit.py) that records its verdict
# as an audit:verified entry, which the page then shows.
INLINE_VERIFY_LIMIT = 20_000
VERIFY_JOB = "jobs.audit.verify_chain"


def chain_length(session: Session, org_id: int) -> int:
    """Entries in the chain, from its first and last seq (two index look-ups, no count)."""
    first, last = session.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))
                                  .where(AuditEvent.org_id == org_id)).one()
    return 0 if first is None else last - first + 1


def verdict_details(verdict) -> dict:
    return {"whole": verdict.whole, "checked": verdict.checked, "broken_at_seq": verdict.broken_at_seq,
            "problem": verdict.problem, "first_seq": verdict.first_seq}


def last_verdict(session: Session, org_id: int) -> AuditEvent | None:
    return session.scalar(select(AuditEvent).where(
        AuditEvent.org_id == org_id, AuditEvent.action == Action.audit_verified.value)
        .order_by(AuditEvent.id.desc()).limit(1))


def enqueue_verify(services, org_id: int, requested_by: int | None) -> bool:
    """Queue a verification of the organization's chain; False if one is queued or running."""
    from listening.core.queue import QUEUE_MAINTENANCE

    job = services.jobs.enqueue_once(QUEUE_MAINTENANCE, VERIFY_JOB, int(org_id), requested_by,
                                     job_id=f"audit-verify-{int(org_id)}", job_timeout=3600, ttl=3600,
                                     result_ttl=3600, failure_ttl=7 * 86400,
                                     description=f"verify the audit chain of organization {int(org_id)}")
    return job is not None
