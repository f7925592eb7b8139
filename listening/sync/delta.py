"""Reading a calendar through calendarView delta, where no body can travel (docs/microsoft-graph.md §2).

Delta cannot take ``$select``, so under ``Calendars.Read`` every event would come with its
body: those organizations keep the ``$select``ed calendarView. Under ``Calendars.ReadBasic``
Microsoft sends no bodies at all, and delta turns a re-read of an unchanged calendar into one
small request. What is stored is exactly what calendarView would have stored: the same
pages go through the same ``store_pages`` (trimmed by listening/outlook/events.py).

- A round's window is the sync window widened to whole UTC days, so a deltaLink stays valid
  all day; when the window moves on, a new round reads the whole window again.
- The deltaLink is saved per connection (``calendar_deltas``) encrypted like a token: it is
  an opaque URL that carries Graph's token.
- ``410 Gone`` / ``resyncRequired`` / ``syncStateNotFound``: a new round at once.
- The same event may come more than once and in any order, and ``@removed`` also names
  events that changed outside the window: merged by id, the last word wins, and a removal
  never deletes an item that ended before the window (retention decides about those).
- A 403 from delta: this calendar reads calendarView from then on (until it is linked
  again), and the log says so.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from listening.core import crypto
from listening.core.models import CalendarDelta, CalendarItem, Connection, Organization
from listening.outlook import graph

log = logging.getLogger(__name__)
READ_BASIC = "Calendars.ReadBasic"
BATCH = 1000


def _aad(connection_id: int) -> bytes:
    return crypto.aad_for("delta", connection_id, "link")


def round_window(window: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The sync window widened to whole UTC days: the same all day long."""
    def midnight(moment: datetime) -> datetime:
        return datetime.combine(moment.astimezone(UTC).date(), time(0), UTC)
    return midnight(window[0]), midnight(window[1]) + timedelta(days=1)


def read(session: Session, connection: Connection, org: Organization, keys: crypto.KeyRing, client,
         window: tuple[datetime, datetime], now: datetime, report, store: Callable, *, view: Callable,
         version: str, rewrite: bool = False) -> None:
    """Read the calendar into its stored copy: delta under Calendars.ReadBasic, else calendarView.

    ``store(pages, window, complete=, reread=)`` stores pages as the sync does; ``view()`` lists
    the window with calendarView; ``version`` is that of the stored fields. A delta round from a
    token brings only changes, so a copy trimmed under other fields, or ``rewrite``, needs a
    whole round to be rewritten."""
    state = session.get(CalendarDelta, connection.id) if org.calendar_scope == READ_BASIC else None
    if org.calendar_scope != READ_BASIC or _forbidden(state, connection):
        store(view(), window, reread=view)
        return
    if state is None:
        state = CalendarDelta(connection_id=connection.id, org_id=connection.org_id)
        session.add(state)
    state.forbidden_at = None
    delta_window = round_window(window)
    link = None if rewrite or state.trim_version != version else _saved_link(keys, state, delta_window)
    try:
        try:
            link, gone = _round(client, delta_window, store, view, link)
        except graph.DeltaReset as reset:
            log.info("delta token of connection %s no longer valid (%s): reading the window again",
                     connection.id, reset.code or reset.status)
            link, gone = _round(client, delta_window, store, view, None)
    except graph.DeltaForbidden:
        log.warning("Graph refused delta for connection %s (403): it reads calendarView from now on",
                    connection.id)
        state.delta_link, state.forbidden_at = None, now
        store(view(), window, reread=view)
        return
    report.deleted += _delete_removed(session, connection.id, gone, delta_window[0])
    state.delta_link = keys.encrypt(link.encode(), _aad(connection.id))
    state.window_start, state.window_end = delta_window
    state.trim_version = version


def _forbidden(state: CalendarDelta | None, connection: Connection) -> bool:
    """Graph refused delta for this calendar, and it was not linked again since."""
    if state is None or state.forbidden_at is None:
        return False
    return connection.linked_at is None or connection.linked_at <= state.forbidden_at


def _saved_link(keys: crypto.KeyRing, state: CalendarDelta, window) -> str | None:
    """The last round's deltaLink, if it was made for this very window."""
    if state.delta_link is None or (state.window_start, state.window_end) != window:
        return None
    try:
        return keys.decrypt(state.delta_link, _aad(state.connection_id)).decode()
    except crypto.CryptoError as err:
        log.warning("the delta link of connection %s cannot be decrypted (%s): reading the window again",
                    state.connection_id, err)
        return None


def _round(client, window, store: Callable, view: Callable, link: str | None) -> tuple[str, list[str]]:
    """One round into the stored copy; returns the deltaLink that starts the next one, and the
    ids the round removed (from a token; a whole round's removals are done by ``store``)."""
    rnd = client.calendar_view_delta(*window, delta_link=link)
    last_word: dict[str, bool] = {}  # event id -> removed?
    pages = 0

    def events():
        nonlocal pages
        for page in rnd:
            pages += 1
            kept = []
            for item in page:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                    raise graph.MalformedResponseError(f"page {pages} of delta holds an item without an id")
                removed = "@removed" in item
                last_word[item["id"]] = removed
                if not removed:
                    kept.append(item)
            yield kept

    if link is None:
        # A round without a token holds the whole window: what it does not name is gone, as
        # after a calendarView read (and a mass removal is confirmed the same way).
        store(events(), window, reread=view)
        return rnd.delta_link, []
    store(events(), window, complete=False)  # from a token: only changes
    return rnd.delta_link, [event_id for event_id, removed in last_word.items() if removed]


def _delete_removed(session: Session, connection_id: int, event_ids: list[str], window_start: datetime) -> int:
    """Delete the removed events we hold, except those that ended before the window."""
    deleted = 0
    for i in range(0, len(event_ids), BATCH):
        result = session.execute(
            delete(CalendarItem).where(
                CalendarItem.connection_id == connection_id,
                CalendarItem.provider_event_id.in_(event_ids[i:i + BATCH]),
                or_(CalendarItem.end_utc.is_(None), CalendarItem.end_utc > window_start))
            .execution_options(synchronize_session=False))
        deleted += result.rowcount
    return deleted
