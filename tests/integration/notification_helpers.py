"""The app served over loopback with change notifications on, and a demo emulator of its own
that posts to it: what the notification tests arrange and read back."""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from listening.core import crypto
from listening.core.models import AuditEvent, Connection, ConnectionState, GraphSubscription, Role
from listening.core.queue import QUEUE_MAINTENANCE, QUEUE_SYNC
from tests.integration import sync_helpers as h
from tests.support import apps
from tests.support import factories as f
from tests.support.apps import services_of

READ, READ_BASIC = ("User.Read", "Calendars.Read", "offline_access"), \
    ("User.Read", "Calendars.ReadBasic", "offline_access")


class _Later:
    """A WSGI app filled in after the server exists (PUBLIC_URL needs the port first)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class Served:
    app: object
    base: str
    emu: object

    @property
    def services(self):
        return services_of(self.app)


@pytest.fixture(scope="module")
def notify_emulator():
    """A demo emulator of the module's own: these tests edit calendars, advance its clock and
    leave subscriptions behind."""
    from emulator.testing import running_emulator

    with running_emulator(seed="demo", control=True) as emu:
        yield emu


@contextmanager
def serve(database_url, redis_url, key_prefix, emu, tmp_path, **settings):
    from werkzeug.serving import make_server

    from emulator.testing import QuietHandler
    from jobs import runtime

    later = _Later()
    server = make_server("127.0.0.1", 0, later, threaded=True, request_handler=QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    settings = {"public_url": base, "notify_debounce": 0.0, "graph_max_wait": 0.5,
                "sync_retry": (1, (1,))} | settings
    later.app = app = apps.make_app(database_url, settings.pop("redis_url", redis_url), key_prefix, emu.url,
                                    tmp_path, **settings)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True, name="app-server")
    thread.start()
    runtime.use(services_of(app))
    try:
        yield Served(app, base, emu)
    finally:
        runtime.use(None)
        server.shutdown()
        server.server_close()
        apps.clean(app, key_prefix)
        emu.forget_subscriptions()
        emu.reset(world=True)


@pytest.fixture
def served(database_url, redis_url, key_prefix, notify_emulator, tmp_path, request):
    with serve(database_url, redis_url, key_prefix, notify_emulator, tmp_path,
               **getattr(request, "param", {})) as s:
        yield s


# --- arranging ---------------------------------------------------------------------------------
def linked(served: Served, session, email: str | None = None, scopes=READ, calendar_scope=None,
           org=None) -> Connection:
    """A linked connection of one of the demo's Contoso managers, with real minted tokens."""
    emu = served.emu
    users = {u["email"]: u for u in emu.users()}
    email = email or f.manager_emails(emu)[0]
    user = users[email]
    org = org or f.org(session, tenant_id=user["tenant"], name="Contoso")
    if calendar_scope:
        org.calendar_scope = calendar_scope
    person = f.person(session, org, email=email, role=Role.manager, oid=user["oid"], name=user["name"])
    connection = Connection(org_id=org.id, person_id=person.id, state=ConnectionState.linked,
                            ms_tenant_id=user["tenant"], ms_oid=user["oid"], account_email=email,
                            linked_at=datetime.now(UTC) - timedelta(minutes=1))
    session.add(connection)
    session.flush()
    served.services.tokens.save(session, connection, emu.mint_token(email, scopes))
    session.commit()
    return connection


def subscribed(served: Served, session, **kwargs) -> tuple[Connection, GraphSubscription]:
    """A linked connection whose subscription the upkeep job created (and its first sync ran)."""
    from listening.notifications import queue as notify_queue

    connection = linked(served, session, **kwargs)
    notify_queue.keep_subscription(served.services, connection.id)
    h.work(served.app)
    return connection, subscription(session, connection.id)


def stored_subjects(served: Served, session, connection_id: int) -> set[str]:
    """The subjects of the connection's stored copies, decrypted."""
    return {h.decrypted(served.app, item).get("subject") for item in h.items(session, connection_id)}


def subscription(session, connection_id: int) -> GraphSubscription | None:
    session.expire_all()
    return session.scalar(select(GraphSubscription).where(GraphSubscription.connection_id == connection_id))


def client_state(served: Served, row: GraphSubscription) -> str:
    return served.services.keys.decrypt(row.client_state, crypto.aad_for(
        "subscription", row.connection_id, "client_state")).decode()


def meeting(emu, organizer: str, subject: str, days_ahead: int = 2) -> str:
    """A new meeting in the organizer's calendar (inside the sync window) with one of their
    reports; its id."""
    report = next(u for u in emu.users() if u["manager"] == organizer)
    start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=days_ahead)
    return emu.calendar(action="create_meeting", organizer=organizer, attendees=[report["email"]],
                        subject=subject, start=start.isoformat(),
                        end=(start + timedelta(minutes=30)).isoformat())["result"]


def actions(session, org_id: int, prefix: str = "subscription:") -> list[tuple[str, dict]]:
    session.expire_all()
    return [(e.action, e.details) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.action.startswith(prefix))
        .order_by(AuditEvent.seq))]


def sync_triggers(session, org_id: int) -> list[str]:
    return [d["trigger"] for _, d in actions(session, org_id, "calendar:sync")]


def delivered(emu, since: int = 0, **match) -> list[dict]:
    return [d for d in emu.deliveries(since) if all(d.get(k) == v for k, v in match.items())]


def wait_delivery(emu, since: int = 0, timeout: float = 15.0, **match) -> dict:
    return h.wait_for(lambda: (delivered(emu, since, **match) or [None])[-1], timeout=timeout)


def clock_to(emu, moment: datetime) -> None:
    """Move the emulator's clock to ``moment``, the ``now`` a test hands the use cases."""
    emu.advance_clock((moment - datetime.now(UTC)).total_seconds())


def last_seq(emu) -> int:
    log = emu.deliveries()
    return log[-1]["seq"] if log else 0


def queued(served: Served) -> dict[str, int]:
    """Jobs waiting: {"sync": n, "maintenance": n, "scheduled": n}."""
    jobs = served.services.jobs
    return {"sync": jobs.queue(QUEUE_SYNC).count, "maintenance": jobs.queue(QUEUE_MAINTENANCE).count,
            "scheduled": ScheduledJobRegistry(queue=jobs.queue(QUEUE_SYNC)).count}


def post(served: Served, path: str, body, **headers) -> requests.Response:
    return requests.post(served.base + path, json=body, headers=headers, timeout=10)


def notification(row: GraphSubscription, state: str, tenant: str, event_id: str = "AAMk-event",
                 etag: str = 'W/"1"', change: str = "updated") -> dict:
    resource = f"Users/someone/Events/{event_id}"
    return {"subscriptionId": row.subscription_id, "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
            "changeType": change, "resource": resource, "clientState": state, "tenantId": tenant,
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                             "@odata.etag": etag, "id": event_id}}


# --- Redis that can be taken away ---------------------------------------------------------------
class RedisSwitch:
    """A TCP relay to the real Redis that can be switched off (open connections cut, new ones
    refused) and on again: Redis going down under the app, as far as the app can tell."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream, self.on = upstream, True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.links: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.on:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def down(self) -> None:
        self.on = False
        with self.lock:
            for link in self.links:
                try:
                    link.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.links.clear()

    def up(self) -> None:
        self.on = True

    def close(self) -> None:
        self.down()
        self.listener.close()
