"""The measured phases and the environment of bench/sync_bench.py (see its docstring).

Each ``phase_*`` runs in a child process of its own and returns a dict of figures.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from tests.support.apps import make_app, services_of

ROOT = Path(__file__).resolve().parent.parent
KEYS = "bench:" + "QkVOQ0hCRU5DSEJFTkNIQkVOQ0hCRU5DSEJFTkNIISE="


# --- the measured phases (each runs in its own process) -------------------------------------------
def _app(cfg: dict):
    return make_app(cfg["db"], cfg["redis"], cfg["prefix"], cfg["emu"], cfg["tmp"], TESTING=False, keys=KEYS,
                    secret_key="bench", log_level="WARNING")


def _window(cfg: dict):
    from emulator.seeds import window

    return window(date.fromisoformat(cfg["anchor"]))


def phase_full(cfg: dict) -> dict:
    """A full sync in a fresh process ("cold": first connections, statement caches), then,
    after deleting what it stored, the same full sync again as a running worker does it.
    Each starts from an empty mailbox, whatever an earlier round stored."""
    from listening import sync

    app = _app(cfg)
    _forget(app, cfg["connection_id"])
    cold = sync.run(services_of(app), cfg["connection_id"], trigger="bench", window=_window(cfg))
    _forget(app, cfg["connection_id"])
    report = sync.run(services_of(app), cfg["connection_id"], trigger="bench", window=_window(cfg))
    return {"outcome": report.outcome.value, "seconds": report.seconds, "cold_seconds": cold.seconds,
            "events": report.fetched, "requests": report.requests, "rows_written": report.rows_written}


def _forget(app, connection_id: int) -> None:
    """Delete the mailbox's stored items; VACUUM, as a new mailbox finds no dead row versions of
    its own keys in the table and its index."""
    from sqlalchemy import text


    with services_of(app).db.engine.begin() as conn:
        conn.execute(text("DELETE FROM calendar_items WHERE connection_id = :c"), {"c": connection_id})
    with services_of(app).db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM calendar_items"))


def phase_resync(cfg: dict) -> dict:
    from sqlalchemy import text

    from listening import sync

    app = _app(cfg)
    versions = text("SELECT id, xmin::text FROM calendar_items WHERE connection_id = :c ORDER BY id")
    with services_of(app).db.engine.connect() as conn:
        before = conn.execute(versions, {"c": cfg["connection_id"]}).all()
    report = sync.run(services_of(app), cfg["connection_id"], trigger="bench", window=_window(cfg))
    with services_of(app).db.engine.connect() as conn:
        after = conn.execute(versions, {"c": cfg["connection_id"]}).all()
    return {"outcome": report.outcome.value, "seconds": report.seconds, "events": report.fetched,
            "requests": report.requests, "rows_written": len(set(before) ^ set(after)),
            "reported_rows_written": report.rows_written}


def phase_bare(cfg: dict) -> dict:
    """The same pages with nothing but requests and json: the floor a sync cannot beat."""
    import requests

    from listening.outlook import graph

    start, end = _window(cfg)
    http, started, events, count = requests.Session(), time.perf_counter(), 0, 0
    url = cfg["emu"] + "/v1.0/me/calendarView"
    params = {"startDateTime": graph._iso(start), "endDateTime": graph._iso(end),
              "$select": ",".join(graph.SELECT), "$top": "1000"}
    headers = {"Authorization": "Bearer " + cfg["token"], "Prefer": graph.PREFER}
    while url:
        page = json.loads(http.get(url, params=params, headers=headers, timeout=60).content)
        events, count, url, params = events + len(page["value"]), count + 1, page.get("@odata.nextLink"), None
    return {"seconds": round(time.perf_counter() - started, 3), "events": events, "requests": count}


def phase_sdk(cfg: dict) -> dict:
    """msgraph-sdk's calendarView paging (its nextLink loop); ``top`` None = the SDK's default;
    ``select`` and ``prefer`` as the sync asks, or None/False for the SDK as it comes."""
    import asyncio

    from azure.core.credentials import AccessToken
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
        CalendarViewRequestBuilder as Builder,
    )

    from listening.outlook import graph

    class Minted:
        def get_token(self, *scopes, **kwargs):
            return AccessToken(cfg["token"], int(time.time()) + 3000)

    adapter = GraphRequestAdapter(AzureIdentityAuthenticationProvider(
        Minted(), allowed_hosts=["127.0.0.1"], scopes=["https://graph.microsoft.com/.default"]))
    adapter.base_url = cfg["emu"] + "/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    start, end = _window(cfg)
    query = Builder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"), end_date_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        top=cfg["top"], select=cfg["select"])

    def configured(query_parameters=None):
        """With ``prefer``, the sync's Prefer header too (ImmutableId, times in UTC): like for like."""
        config = Builder.CalendarViewRequestBuilderGetRequestConfiguration(query_parameters=query_parameters)
        if cfg.get("prefer"):
            for preference in graph.PREFER.split(", "):
                config.headers.add("Prefer", preference)
        return config

    async def read():
        page = await client.me.calendar_view.get(request_configuration=configured(query))
        events, requests_made = len(page.value), 1
        while page.odata_next_link and events < cfg["limit"]:
            page = await client.me.calendar_view.with_url(page.odata_next_link).get(request_configuration=configured())
            events, requests_made = events + len(page.value), requests_made + 1
        return events, requests_made

    started = time.perf_counter()
    events, requests_made = asyncio.run(read())
    return {"seconds": round(time.perf_counter() - started, 3), "events": events, "requests": requests_made}


def phase_cpu(cfg: dict) -> dict:
    """Where the time goes: CPU seconds of this process, the emulator and PostgreSQL during one
    bare fetch and one full sync (the three share the machine's cores)."""
    from listening import sync

    app = _app(cfg)
    sync.run(services_of(app), cfg["connection_id"], trigger="bench", window=_window(cfg))  # warm, as a running worker

    def spent(measured) -> list[float]:
        before = (_cpu_seconds(cfg["emu_pid"]), _postgres_cpu(), time.process_time())
        measured()
        after = (time.process_time(), _cpu_seconds(cfg["emu_pid"]), _postgres_cpu())
        server = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[2].items())
        return [round(after[0] - before[2], 2), round(after[1] - before[0], 2), round(server, 2)]

    out = {"bare": spent(lambda: phase_bare(cfg))}
    _forget(app, cfg["connection_id"])
    out["full"] = spent(lambda: sync.run(services_of(app), cfg["connection_id"], trigger="bench", window=_window(cfg)))
    return out


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL process on this host (backends, autovacuum,
    WAL writer...). A process that ends during a run is missed: its time is not counted."""
    import psutil

    out = {}
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if (proc.info["name"] or "").startswith("postgres") and proc.info["cpu_times"] is not None:
            out[proc.pid] = proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


PHASES = {"full": phase_full, "resync": phase_resync, "bare": phase_bare, "sdk": phase_sdk,
          "cpu": phase_cpu}


def _own_peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that across
    exec, so a child would report the size of the parent it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- the environment: database, emulators, connections ----------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(people: int, events: int, anchor: str) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--seed", "scale", "--people", str(people),
                             "--events", str(events), "--anchor", anchor, "--control", "--port", str(port),
                             "--mailbox-concurrency", "0"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/_emulator/stats", timeout=2).raise_for_status()
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the emulator did not start")


def link_mailboxes(cfg: dict, emu_url: str, count: int | None = None) -> list[tuple[int, str]]:
    """One organization with a linked manager per emulator mailbox: [(connection id, token)]."""
    import requests

    from listening.core.models import (
        Connection,
        ConnectionState,
        Organization,
        Person,
        Role,
    )

    app = _app(cfg | {"emu": emu_url})
    users = requests.get(emu_url + "/_emulator/users", timeout=30).json()[:count]
    out = []
    with app.app_context():

        with services_of(app).db.unit_of_work() as session:
            org = Organization(tenant_id=f"{users[0]['tenant']}-{secrets.token_hex(3)}", name="Bench")
            session.add(org)
            session.flush()
            for user in users:
                person = Person(org_id=org.id, email=user["email"], oid=user["oid"], role=Role.manager,
                                display_name=user["name"])
                session.add(person)
                session.flush()
                connection = Connection(org_id=org.id, person_id=person.id, state=ConnectionState.linked,
                                        account_email=user["email"])
                session.add(connection)
                session.flush()
                minted = requests.post(emu_url + "/_emulator/tokens", json={"user": user["email"]}, timeout=30).json()
                services_of(app).tokens.save(session, connection, minted)
                out.append((connection.id, minted["access_token"]))
    return out


# --- 200 mailboxes through N real RQ workers ---------------------------------------------------------
def workers_round(cfg: dict, emu_url: str, connection_ids: list[int], workers: int) -> dict:
    """Queue a full sync of every mailbox, then time N ``rq worker --burst`` processes draining it."""
    from sqlalchemy import text

    from listening.sync import queue as sync_queue

    app = _app(cfg | {"emu": emu_url})
    with services_of(app).db.engine.begin() as conn:
        conn.execute(text("DELETE FROM calendar_items"))
        conn.execute(text("UPDATE connections SET next_sync_at = NULL, last_sync_outcome = NULL"))
    with app.app_context():
        for cid in connection_ids:
            sync_queue.enqueue_sync(services_of(app), cid, trigger="bench")
    env = dict(os.environ, DATABASE_URL=cfg["db"], REDIS_URL=cfg["redis"], QUEUE_PREFIX=cfg["prefix"],
               MS_AUTHORITY=emu_url, GRAPH_URL=emu_url + "/v1.0", LISTENING_KEYS=KEYS,
               LISTENING_INSTANCE=cfg["tmp"], SECRET_KEY="bench", LOG_LEVEL="WARNING")
    started = time.perf_counter()
    # The Procfile's worker command, in burst mode.
    command = [sys.executable, "-m", "rq.cli", "worker", "--burst", "-q", "--worker-class", "rq.SimpleWorker",
               "-c", "jobs.rq_settings"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    for proc in procs:
        proc.wait()
    wall = time.perf_counter() - started
    with services_of(app).db.engine.connect() as conn:
        ok = conn.execute(text("SELECT count(*) FROM connections WHERE last_sync_outcome = 'ok'")).scalar()
        items = conn.execute(text("SELECT count(*) FROM calendar_items")).scalar()
    services_of(app).db.dispose()
    return {"workers": workers, "seconds": round(wall, 2), "synced_ok": ok, "events_stored": items}


def _clear_redis(cfg: dict) -> None:
    import redis

    conn = redis.Redis.from_url(cfg["redis"])
    keys = list(conn.scan_iter(f"*{cfg['prefix']}*", count=1000))
    if keys:
        conn.delete(*keys)
