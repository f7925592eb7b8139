"""Read back what a sync stored, run queued jobs in-process, and spoil Graph pages on the way."""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from datetime import datetime

import requests
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import func, select, text

from listening.core import crypto, queue
from listening.core.models import CalendarItem, Connection
from listening.sync import queue as sync_queue
from tests.support.apps import services_of


def items(session, connection_id: int) -> list[CalendarItem]:
    session.expire_all()
    return list(session.scalars(select(CalendarItem).where(CalendarItem.connection_id == connection_id)
                                .order_by(CalendarItem.provider_event_id)))


def count(session, connection_id: int) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(CalendarItem)
                          .where(CalendarItem.connection_id == connection_id))


def snapshot(session, connection_id: int) -> dict[str, tuple]:
    """Every stored row's identity and version, to compare before/after a failure."""
    return {i.provider_event_id: (i.id, i.change_key, bytes(i.provider_data)) for i in items(session, connection_id)}


def decrypted(app, item: CalendarItem) -> dict:
    blob = services_of(app).keys.decrypt(item.provider_data, crypto.aad_for("event", item.connection_id,
                                                                     item.provider_event_id))
    return json.loads(blob)


def table_writes(session) -> int:
    """Rows inserted + updated + deleted in calendar_items so far (PostgreSQL's own counters)."""
    session.commit()
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    row = session.execute(text(
        "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
        "WHERE relname = 'calendar_items'")).scalar()
    session.commit()
    return int(row or 0)


def connection(session, connection_id: int) -> Connection:
    session.expire_all()
    return session.get(Connection, connection_id)


def row_versions(session, connection_id: int) -> dict[str, tuple[int, str]]:
    """provider_event_id -> (row id, xmin): any UPDATE, DELETE or INSERT changes this map."""
    session.commit()
    rows = session.execute(text("SELECT provider_event_id, id, xmin::text FROM calendar_items "
                                "WHERE connection_id = :c"), {"c": connection_id}).all()
    session.commit()
    return {r[0]: (r[1], r[2]) for r in rows}


def scale_window(emu) -> tuple[datetime, datetime]:
    """The window in which every scale mailbox holds exactly `events` events."""
    from datetime import date

    from emulator.seeds import window

    return window(date.fromisoformat(emu.app.config["EMULATOR_ANCHOR"]))


def wait_for(predicate, timeout: float = 20.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


# --- a misbehaving gateway in front of the emulator ----------------------------------------------
class GraphProxy:
    """Forwards Graph calls to the emulator over loopback and spoils one calendarView page,
    the way a gateway that answers with an HTML error page or a truncated body would."""

    def __init__(self, upstream: str, spoil_page: int | None, mode: str):
        """``spoil_page``: the n-th calendarView response this proxy serves; None: every one."""
        self.upstream, self.spoil_page, self.mode = upstream.rstrip("/"), spoil_page, mode
        self.pages = 0
        self.url = ""

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        upstream = requests.get(self.upstream + request.full_path.rstrip("?"), timeout=30,
                                headers={k: v for k, v in request.headers.items()
                                         if k.lower() in ("authorization", "prefer", "accept")})
        body = upstream.content.replace(self.upstream.encode(), self.url.encode())
        content_type = upstream.headers.get("Content-Type", "application/json")
        if "calendarView" in request.path:
            self.pages += 1
            if self.spoil_page in (None, self.pages):
                body, content_type = self._spoil(body)
        return Response(body, upstream.status_code, content_type=content_type)(environ, start_response)

    def _spoil(self, body: bytes) -> tuple[bytes, str]:
        if self.mode == "html":
            return b"<html><body>502 Bad Gateway</body></html>", "text/html"
        if self.mode == "truncated":
            return body[: len(body) // 2], "application/json"
        if self.mode == "no_value":
            page = json.loads(body)
            page["values"] = page.pop("value")
            return json.dumps(page).encode(), "application/json"
        if self.mode == "no_next_link":  # a valid page that ends the listing early
            page = json.loads(body)
            page.pop("@odata.nextLink", None)
            return json.dumps(page).encode(), "application/json"
        if self.mode == "foreign_link":
            page = json.loads(body)
            page["@odata.nextLink"] = "http://198.51.100.7/v1.0/me/calendarView?$skip=1000"
            return json.dumps(page).encode(), "application/json"
        raise ValueError(self.mode)


@contextmanager
def graph_proxy(upstream: str, spoil_page: int | None, mode: str):
    from werkzeug.serving import make_server

    proxy = GraphProxy(upstream, spoil_page, mode)
    server = make_server("127.0.0.1", 0, proxy, threaded=True)
    proxy.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


# --- running the queued jobs in-process ------------------------------------------------------
def work(app, with_scheduler: bool = False) -> None:
    queues = [services_of(app).jobs.queue(name) for name in (queue.QUEUE_SYNC, queue.QUEUE_MAINTENANCE)]
    SimpleWorker(queues, connection=services_of(app).jobs.redis).work(burst=True, with_scheduler=with_scheduler)


def job_of(app, connection_id: int) -> Job:
    prefix = services_of(app).settings.queue_prefix
    return Job.fetch(prefix + sync_queue.sync_job_id(connection_id), connection=services_of(app).jobs.redis)
