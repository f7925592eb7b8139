"""The API's reads: one organization's attached 1-on-1s and directory, in keyset pages.

Use cases: plain arguments in, plain dicts out (listening/api/schemas.py writes them), no
Flask, no commit. Pages are ordered by id and continue after the last id of the previous
page, so a row added or removed meanwhile neither repeats nor hides another; the cursor
is opaque to clients, so its form may change.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from listening.core.models import OneOnOne, Person
from listening.one_on_ones import exposed

DEFAULT_PAST = DEFAULT_AHEAD = timedelta(days=30)
MAX_RANGE = timedelta(days=366)
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


class CursorError(ValueError):
    """The cursor was not made by this API."""


@dataclass(frozen=True)
class Page:
    items: list[dict]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        version, _, last = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().partition(":")
        last_id = int(last)
    except (ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not one this API returned") from None
    if version != "v1" or not 0 <= last_id < 2**63:
        raise CursorError("cursor is not one this API returned")
    return last_id


def _page(session: Session, query, id_column, limit: int, cursor: str | None):
    rows = list(session.scalars(query.where(id_column > decode_cursor(cursor))
                                .order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more else None)


def one_on_ones_page(session: Session, org_id: int, filters: dict) -> Page:
    query = select(OneOnOne).where(OneOnOne.org_id == org_id)
    if filters.get("manager") is not None:
        query = query.where(OneOnOne.manager_id == filters["manager"])
    if filters.get("report") is not None:
        query = query.where(OneOnOne.report_id == filters["report"])
    if filters.get("status") is not None:
        query = query.where(OneOnOne.status == exposed.STATUS_OF[filters["status"]])
    if filters.get("changed_since") is not None:
        query = query.where(OneOnOne.changed_at >= filters["changed_since"])
    rows, cursor = _page(session, query, OneOnOne.id, filters.get("limit", 50), filters.get("cursor"))
    return Page(exposed.one_on_ones(session, rows), cursor)


def one_on_one(session: Session, org_id: int, one_on_one_id: int, window: dict, now: datetime) -> dict | None:
    """One attached 1-on-1 with its occurrences in ``window`` (start/end; 30 days either side of now)."""
    if not 0 < one_on_one_id < 2**31:  # ids are PostgreSQL integers
        return None
    row = session.scalar(select(OneOnOne).where(OneOnOne.org_id == org_id, OneOnOne.id == one_on_one_id))
    if row is None:
        return None
    start = window.get("start") or _shifted(min(now, window.get("end") or now), -DEFAULT_PAST)
    end = min(window.get("end") or _shifted(max(now, start), DEFAULT_AHEAD), _shifted(start, MAX_RANGE))
    detail = exposed.one_on_ones(session, [row])[0]
    detail["occurrences"] = exposed.occurrences(session, row, start, end)
    return detail


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the calendar's ends (a client may ask about the year 9999)."""
    try:
        return moment + delta
    except OverflowError:
        return _LATEST if delta > timedelta(0) else _EARLIEST


def people_page(session: Session, org_id: int, filters: dict) -> Page:
    query = select(Person).where(Person.org_id == org_id)
    if filters.get("active") is not None:
        query = query.where(Person.active.is_(bool(filters["active"])))
    rows, cursor = _page(session, query, Person.id, filters.get("limit", 50), filters.get("cursor"))
    return Page([{"id": p.id, "email": p.email, "name": p.display_name, "manager_id": p.manager_id,
                  "role": p.role.value, "active": p.active} for p in rows], cursor)
