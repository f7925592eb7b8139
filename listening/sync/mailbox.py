"""The sync use case: read one linked calendar's window from Graph and keep a trimmed,
encrypted copy of each event.

One mailbox's sync is ONE transaction (``run``): pages are fetched, trimmed,
encrypted and upserted as they arrive, events gone from the window are
deleted, the connection's state and an audit entry are written, and only then
does anything commit. A crash part-way (worker killed, Graph failing, a
malformed page) leaves the previous copy whole, and the unique key
(connection, provider event id) means a re-run cannot duplicate anything.

Token refreshes are the exception: they save the rotated refresh token in
their own short transaction (see ``_token_source``), because Microsoft's new
refresh token must not be lost when the sync itself rolls back.

While it runs, a sync gives way to its worker shutting down and to an unlink or
erasure of the same connection (listening/sync/watch.py). A listing that would
delete more than half of what the sync held in the window is read a second time
first (``MASS_DELETE``). A deadlock is retried at once, once.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy.orm import Session

from listening import audit
from listening.audit import Action
from listening.core import crypto, db
from listening.core.models import Connection, ConnectionState, Organization
from listening.notifications import status as notification_status
from listening.one_on_ones import recheck_after_sync
from listening.outlook import connection as states
from listening.outlook import events, graph
from listening.outlook.connection import Outcome
from listening.outlook.events import StoredFields, utc_instant
from listening.sync import delta, progress, store
from listening.sync.watch import Watch

UTC_ZONE = ZoneInfo("UTC")  # a skip's reason goes to logs and reports, read by operators

if TYPE_CHECKING:
    from listening.services import Services

log = logging.getLogger(__name__)
# A listing that would delete more than this many held events, and more than half of those
# held in the window, is read again before anything is deleted (a truncating proxy or a
# gateway can end a listing early with a valid page that simply has no nextLink).
MASS_DELETE = 50


@dataclass
class SyncReport:
    """What one sync did: counts and timings only, never event content."""
    connection_id: int
    outcome: Outcome = Outcome.ok
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    attempts: int = 1
    second_read: dict | None = None  # the figures of a second read before a mass delete
    detail: str | None = None
    failure: states.Failure | None = None
    error: BaseException | None = field(default=None, repr=False, compare=False)
    not_before: datetime | None = field(default=None, repr=False, compare=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _owner: tuple[int, int] | None = field(default=None, repr=False)  # (org id, person id)

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated + self.deleted

    def finish(self) -> SyncReport:
        self.seconds = round(time.monotonic() - self._started, 3)
        return self

    def public(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if not f.name.startswith("_") and f.name not in ("error", "failure", "not_before")}
        out["outcome"] = self.outcome.value
        return out


def window_for(org: Organization, now: datetime) -> tuple[datetime, datetime]:
    """The organization's sync window around ``now`` (default 30 days back, 120 ahead)."""
    return now - timedelta(days=org.window_past_days), now + timedelta(days=org.window_future_days)


# --- the data transaction ------------------------------------------------------------------------
def store_pages(session: Session, connection: Connection, keys: crypto.KeyRing, pages: Iterable[list[dict]],
                window: tuple[datetime, datetime], now: datetime, report: SyncReport, *,
                check: Callable[[], None] = lambda: None,
                reread: Callable[[], Iterable[list[dict]]] | None = None,
                stored: StoredFields | None = None, rewrite: bool = False, complete: bool = True,
                progress: Callable[[int], None] | None = None) -> None:
    """Upsert every changed event of ``pages`` and delete held events gone from the window.

    Events whose change key matches the held copy, trimmed with the same stored
    fields, are not even trimmed or encrypted again; ``rewrite`` rewrites them too.
    ``stored`` defaults to the stored fields of this code (events.STORED). Items
    that ended before the window are left alone: they left the window by age, and
    the retention job decides how long they stay.
    ``check`` is called before each page (it raises to stop the sync). When the
    listing lacks more than MASS_DELETE held events and more than half of those held
    in the window, ``reread`` lists the window again and only events missing from
    both listings are deleted. ``complete`` False: the pages hold only changes (a
    delta round), so nothing is deleted for being absent.
    """
    stored = stored or events.STORED
    held = store.held_items(session, connection.id)
    in_window = sum(1 for _, end, _ in held.values() if not (end is not None and end <= window[0]))
    seen: dict[str, str | None] = {}
    make_row = _RowMaker(connection, keys, now, stored)
    current = None if rewrite else stored.version
    with _cyclic_gc_paused(), store.Writer(session, rewrite=rewrite) as writer:
        for page in pages:
            check()
            report.pages += 1
            report.fetched += len(page)
            if progress is not None:
                progress(report.fetched)  # for the page its owner may be watching
            new, changed = _sort_page(page, held, seen, make_row, report, current)
            writer.write(list(new.values()), list(changed.values()))
            for event_id in new:
                held[event_id] = (seen[event_id], None, stored.version)
    if not complete:
        return
    gone = [event_id for event_id, (_, end, _) in held.items()
            if event_id not in seen and not (end is not None and end <= window[0])]
    if reread is not None and len(gone) > MASS_DELETE and 2 * len(gone) > in_window:
        gone = _confirm_gone(gone, in_window, reread(), check, report)
    report.deleted = store.delete_items(session, connection.id, gone)


def _confirm_gone(gone: list[str], in_window: int, pages: Iterable[list[dict]], check: Callable[[], None],
                  report: SyncReport) -> list[str]:
    """Of ``gone``, what a second listing of the window lacks too (only ids are read from it)."""
    listed: set[str] = set()
    count = 0
    for page in pages:
        check()
        count += 1
        listed.update(_identity(event, count)[0] for event in page)
    confirmed = [event_id for event_id in gone if event_id not in listed]
    report.second_read = {"held_in_window": in_window, "missing_first": len(gone),
                          "listed_again": len(listed), "missing_both": len(confirmed), "pages": count}
    log.warning("sync of connection %s: the listing lacked %s of %s held events; a second listing "
                "lacked %s of them", report.connection_id, len(gone), in_window, len(confirmed))
    return confirmed


@contextmanager
def _cyclic_gc_paused():
    """Python's cycle collector off while pages are stored, as it was before afterwards.

    A sync makes about ten containers per event (parsed JSON, trimmed copies, rows),
    and reference counting frees every one of them: they hold no cycles. With the
    collector on, their sheer number set off full collections of the whole process:
    in a 20,000-event sync two of them (~75 ms each here) and ~300 young ones, ~0.19 s
    in all, about a sixth of the sync. A worker runs one job at a time (rq.SimpleWorker,
    the Procfile) and ``flask sync`` one sync after another, so nothing else waits on this.
    """
    was_on = gc.isenabled()
    try:
        gc.disable()
        yield
    finally:
        if was_on:
            gc.enable()


def _sort_page(page: list, held: dict, seen: dict, make_row: _RowMaker, report: SyncReport,
               current: str | None) -> tuple[dict, dict]:
    """Rows for the page's new and changed events; unchanged ones are only counted.

    Unchanged: the same change key as the held copy, which was trimmed with the
    ``current`` version of the stored fields (None: nothing is unchanged)."""
    new: dict[str, dict] = {}
    changed: dict[str, dict] = {}
    for event in page:
        event_id, change_key = _identity(event, report.pages)
        if event_id in seen and seen[event_id] == change_key:
            continue  # the same version twice (Graph paging by $skip can repeat one)
        seen[event_id] = change_key
        known = held.get(event_id)
        if (known is not None and change_key is not None and known[0] == change_key
                and current is not None and known[2] == current):
            report.unchanged += 1
            continue
        (new if known is None else changed)[event_id] = make_row(event, report.pages)
    report.inserted, report.updated = report.inserted + len(new), report.updated + len(changed)
    return new, changed


def _identity(event, page_number: int) -> tuple[str, str | None]:
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise graph.MalformedResponseError(f"page {page_number} holds an event without an id")
    change_key = event.get("changeKey")
    return event["id"], change_key if isinstance(change_key, str) else None


class _RowMaker:
    """calendar_items rows (by column name, see store.Writer) for one connection's events.

    Per sync, not per event: the connection's ids, the associated-data prefix and
    the cipher are set up once (20,000 events make 20,000 rows)."""

    def __init__(self, connection: Connection, ring: crypto.KeyRing, now: datetime, stored: StoredFields):
        self.org_id, self.connection_id, self.now = connection.org_id, connection.id, now
        self.seal, self.aad = ring.sealer(), crypto.aad_maker("event", connection.id)
        self.trim, self.version = stored.trim, stored.version

    def __call__(self, event: dict, page_number: int) -> dict:
        kept = self.trim(event)
        try:
            start, end = utc_instant(kept.get("start")), utc_instant(kept.get("end"))
        except (ValueError, TypeError, AttributeError):
            raise graph.MalformedResponseError(f"page {page_number} holds an event whose start or end "
                                               "is not a UTC date and time") from None
        plain = orjson.dumps(kept)  # compact UTF-8 JSON; ~17x the stdlib encoder (0.7 µs against 12 µs)
        event_id = kept["id"]
        return {"org_id": self.org_id, "connection_id": self.connection_id, "provider_event_id": event_id,
                "series_id": kept.get("seriesMasterId"),
                "event_type": str(kept.get("type") or "singleInstance")[:20],
                "start_utc": start, "end_utc": end, "is_cancelled": kept.get("isCancelled") is True,
                "change_key": kept.get("changeKey"), "provider_data": self.seal(plain, self.aad(event_id)),
                "updated_at": self.now, "trim_version": self.version}


# --- outcomes on the connection (its state machine: listening/outlook/connection.py) ----------------
def record_success(session: Session, connection: Connection, org: Organization, report: SyncReport,
                   now: datetime, trigger: str) -> None:
    states.succeed(session, connection, now, notification_status.poll_minutes(session, connection, org, now))
    connection.last_sync_at, connection.last_sync_outcome = now, Outcome.ok.value
    _audit(session, connection, report, trigger)


def record_failure(session: Session, connection: Connection | None, report: SyncReport, now: datetime,
                   trigger: str) -> None:
    """The failure on the connection (its state machine) and in the audit log. A connection
    removed meanwhile (the sync gave way to its unlink) is recorded in the audit log only."""
    if connection is None:
        if report._owner is not None:
            org_id, person_id = report._owner
            audit.record(session, Action.sync, None, person_id, _details(report, trigger), org_id=org_id)
        return
    states.fail(session, connection, report.failure, report.detail or "", now, not_before=report.not_before)
    if states.RULES[report.failure].counts:  # a sync stopped on purpose says nothing of the mailbox
        connection.last_sync_outcome = report.outcome.value
    _audit(session, connection, report, trigger)


def _audit(session: Session, connection: Connection, report: SyncReport, trigger: str) -> None:
    audit.record(session, Action.sync, None, connection.person_id, _details(report, trigger),
                 org_id=connection.org_id)


def _details(report: SyncReport, trigger: str) -> dict:
    details = {k: v for k, v in report.public().items() if k not in ("connection_id", "detail")}
    details.update(connection_id=report.connection_id, trigger=trigger, ms=int(report.seconds * 1000),
                   failure=report.failure.value if report.failure else None,
                   error=report.detail if report.outcome.value != "ok" else None)
    return details


# --- the whole use case, for the entry points (jobs, CLI) -----------------------------------------
def run(services: Services, connection_id: int, *, trigger: str = "schedule", now: datetime | None = None,
        window: tuple[datetime, datetime] | None = None, rewrite: bool = False,
        shutdown: threading.Event | None = None) -> SyncReport:
    """Sync one connection: one transaction for the data, then the follow-up re-check.

    Failures are recorded on the connection (state, backoff, audit) in a
    transaction of their own and reported in ``SyncReport.outcome``; the caller
    decides whether to raise (a job raises on transient ones so RQ retries).
    A deadlock is retried at once, once. ``shutdown``: set when the worker must
    stop (the sync then gives way, as Failure.stopped_by_shutdown).
    ``window`` overrides the organization's (for benchmarks against fixed data).
    ``rewrite`` rewrites every event read, unchanged ones too (``flask sync --retrim``).
    """
    now = now or datetime.now(UTC)
    began = time.monotonic()
    published = progress.Publisher(services.jobs, connection_id)
    report = SyncReport(connection_id)
    try:
        for attempt in (1, 2):
            report = SyncReport(connection_id, attempts=attempt)
            try:
                _sync_in_one_transaction(services, report, now, trigger, window, rewrite, shutdown,
                                         published)
                break
            except Exception as exc:  # every failure is recorded, then reported
                report.failure, report.detail = states.failure_of(exc)
                # Graph's wait runs from its answer, which may come minutes into the sync.
                answered = now + timedelta(seconds=time.monotonic() - began)
                report.not_before = states.not_before_of(exc, answered)
                report.outcome = states.RULES[report.failure].outcome
                if report.failure is states.Failure.database_deadlock and attempt == 1:
                    log.warning("sync of connection %s met a deadlock; trying again at once", connection_id)
                    continue
                log.warning("sync of connection %s did not finish (%s): %s", connection_id, report.outcome.value,
                            report.detail, exc_info=report.outcome is Outcome.failed)
                _record_failure_or_log(services, report.finish(), now, trigger)
                report.error = exc
                return report
    finally:
        if report.outcome is not Outcome.busy:
            published.done()  # a busy run must not wipe the running one's count
    if report.outcome is Outcome.ok:
        _recheck_one_on_ones(services, connection_id)
    return report


def _sync_in_one_transaction(services: Services, report: SyncReport, now: datetime, trigger: str,
                             window, rewrite: bool, shutdown: threading.Event | None,
                             published: progress.Publisher | None = None) -> None:
    with services.db.unit_of_work() as session:
        connection = session.get(Connection, report.connection_id)
        org = session.get(Organization, connection.org_id) if connection else None
        skip = _skip_reason(connection, org, now)
        if skip:
            report.outcome, report.detail = Outcome.skipped, skip
            return
        if not store.try_lock(session, connection.id):
            report.outcome, report.detail = Outcome.busy, "another sync of this calendar is running"
            return
        report._owner = (connection.org_id, connection.person_id)
        window = window or window_for(org, now)
        stored = events.STORED  # read once: what we ask Graph for is what we trim to
        token = _token_source(services, connection.id)
        with Watch(services.db, connection.id, shutdown) as watch, \
                services.graph.client(token(False), refresh=lambda: token(True)) as client:
            watch.on_stop(client.interrupt)
            try:
                def keep_pages(pages, round_window, *, complete=True, reread=None):
                    store_pages(session, connection, services.keys, pages, round_window, now, report,
                                check=watch.check, reread=reread, stored=stored, rewrite=rewrite,
                                complete=complete,
                                progress=published.publish if published is not None else None)

                delta.read(session, connection, org, services.keys, client, window, now, report, keep_pages,
                           view=lambda: client.calendar_view(*window, stored.select),
                           version=stored.version, rewrite=rewrite)
            except Exception:
                watch.check()  # a sync told to stop: that, not what the interrupted read raised
                raise
            finally:
                report.requests = client.requests
        record_success(session, connection, org, report.finish(), now, trigger)
    log.info("synced connection %s: %s events, %s written, %s requests, %.2f s", report.connection_id,
             report.fetched, report.rows_written, report.requests, report.seconds)


def _skip_reason(connection: Connection | None, org: Organization | None, now: datetime) -> str | None:
    if connection is None:
        return "no such connection (unlinked since the sync was queued)"
    if connection.state is not ConnectionState.linked:
        return f"the connection is {connection.state.value}"
    if not org.sync_enabled:
        return "calendar sync is turned off for the organization"
    until = states.graph_waiting(connection, now)
    if until is not None:
        return states.graph_wait_words(until, now, UTC_ZONE)
    return None


def _token_source(services: Services, connection_id: int):
    """``fetch(force_refresh) -> access token``, each call in its own committed transaction so
    a rotated refresh token (or the needs_reconnect state tokens.py records) is never rolled
    back with the sync."""
    def fetch(force_refresh: bool) -> str:
        failure = None
        with services.db.unit_of_work() as session:
            connection = session.get(Connection, connection_id)
            try:
                return services.tokens.access_token(session, connection, force_refresh=force_refresh)
            except states.TokenError as exc:
                failure = exc
        raise failure
    return fetch


def _record_failure_or_log(services: Services, report: SyncReport, now: datetime, trigger: str) -> None:
    try:
        with services.db.unit_of_work() as session:
            record_failure(session, session.get(Connection, report.connection_id), report, now, trigger)
    except Exception as exc:
        fault = db.fault_of(exc)
        if fault is None:
            raise
        log.warning("could not record the unfinished sync of connection %s: database %s",
                    report.connection_id, fault.value)


def _recheck_one_on_ones(services: Services, connection_id: int) -> None:
    """Re-check the attached 1-on-1s against the fresh copy, in a transaction of its own: a
    failure there must not undo a good sync (the next one re-checks)."""
    try:
        with services.db.unit_of_work() as session:
            recheck_after_sync(session, services.keys, session.get(Connection, connection_id))
    except Exception:
        log.exception("re-checking the 1-on-1s of connection %s failed", connection_id)
